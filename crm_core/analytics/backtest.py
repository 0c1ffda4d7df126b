"""How right the churn scores were: scores as of a past date against what customers did next.

The models are fitted and every buyer scored with only what was known at the end of ``date``
(purchases after it do not exist yet for them), then compared with who bought again in the
``horizon_days`` after it. Managers run it on their own store (``crm-bot analytics backtest``) to
see how far to trust the at-risk list; docs/ANALYTICS.md has the figures on reference data.

Only customers who had bought by ``date`` are judged: the chance of buying again is theirs alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import rankdata

from crm_core.analytics.aligned import aligned
from crm_core.analytics.churn import AT_RISK, CHURNED, RISK_LEVELS, churn_levels
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.returning import HORIZON_DAYS, fit_return_model

DECILES = 10


@dataclass(frozen=True)
class ReliabilityRow:
    """One tenth of the customers, by predicted chance: what was predicted and what happened."""

    decile: int  # 1 = the lowest predicted chances
    customers: int
    mean_predicted: float
    returned_rate: float


@dataclass(frozen=True)
class LevelOutcome:
    level: str
    customers: int
    returned_rate: float | None  # None for a level nobody was at


@dataclass(frozen=True)
class ListOutcome:
    """A list of customers flagged as leaving, judged as a prediction that they will not buy again.

    ``precision``: the share of the list that did not buy; ``recall``: the share of the customers
    who did not buy (among those the list could hold) that it holds.
    """

    customers: int
    share: float
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class Backtest:
    date: dt.date
    horizon_days: int
    calibrated: bool  # False: too little history before ``date`` to learn the calibration
    customers: int  # buyers scored
    returned: int  # of them, bought again in the horizon
    base_rate: float
    auc: float | None  # None when everyone, or no one, returned
    brier: float
    base_rate_brier: float  # the Brier score of predicting ``base_rate`` for everyone
    reliability: tuple[ReliabilityRow, ...]
    levels: tuple[LevelOutcome, ...]
    at_risk_list: ListOutcome  # the ``at_risk`` customers, against those not already churned
    flagged: ListOutcome  # ``at_risk`` and ``churned`` together, against everyone

    @property
    def levels_ordered(self) -> bool:
        """Whether the share who bought again falls strictly from ``ok`` to ``at_risk`` to ``churned``."""
        rates = [level.returned_rate for level in self.levels]
        known = [rate for rate in rates if rate is not None]
        return len(known) == len(rates) and all(a > b for a, b in pairwise(known))


def backtest(
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    *,
    date: dt.date,
    horizon_days: int = HORIZON_DAYS,
) -> Backtest | None:
    """The scores as of ``date`` judged on the ``horizon_days`` after it; None when no model can be
    fitted on what was known then (too few repeat buyers).

    The caller makes sure the history reaches past the horizon: otherwise late purchases are missing
    and the scores look worse than they are. Only buyers are judged, and a buyer's chance and level
    rest on purchases alone, so ``contacts`` may be empty (the CLI reads none).
    """
    model = fit_return_model(purchases, date, horizon_days)
    if model is None:
        return None
    levels = churn_levels(
        customers=customers, purchases=purchases, contacts=contacts, returns=model, today=date
    )
    judged = levels[levels["p_return_90d"].notna()]
    end = date + dt.timedelta(days=horizon_days)
    days_then = aligned(purchases.until(date).per_customer["purchase_days"], judged.index)
    days_after = aligned(purchases.until(end).per_customer["purchase_days"], judged.index)
    returned = (days_after.to_numpy() > days_then.to_numpy()).astype(np.float64)
    chance = judged["p_return_90d"].to_numpy(dtype=np.float64)
    level = judged["churn_risk"].astype(str).to_numpy()
    base_rate = float(returned.mean()) if len(returned) else 0.0
    return Backtest(
        date=date,
        horizon_days=horizon_days,
        calibrated=model.calibration.origin is not None,
        customers=len(returned),
        returned=int(returned.sum()),
        base_rate=base_rate,
        auc=area_under_curve(chance, returned),
        brier=float(np.mean((chance - returned) ** 2)) if len(returned) else 0.0,
        base_rate_brier=base_rate * (1.0 - base_rate),
        reliability=_reliability(chance, returned),
        levels=tuple(_level_outcome(name, level, returned) for name in RISK_LEVELS),
        at_risk_list=_list_outcome(level == AT_RISK, level != CHURNED, returned),
        flagged=_list_outcome(np.isin(level, [AT_RISK, CHURNED]), np.ones(len(level), dtype=bool), returned),
    )


def area_under_curve(score: NDArray[np.float64], outcome: NDArray[np.float64]) -> float | None:
    """ROC AUC: the chance that a random customer who returned scores above one who did not (ties half)."""
    positives = float(outcome.sum())
    negatives = len(outcome) - positives
    if not positives or not negatives:
        return None
    ranks = rankdata(score)
    return float((ranks[outcome == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _reliability(chance: NDArray[np.float64], returned: NDArray[np.float64]) -> tuple[ReliabilityRow, ...]:
    if not len(chance):
        return ()
    # Equal-sized tenths by rank, ties broken by position: many customers share one chance.
    order = np.argsort(chance, kind="stable")
    rows = []
    for decile, members in enumerate(np.array_split(order, min(DECILES, len(order))), start=1):
        rows.append(
            ReliabilityRow(
                decile=decile,
                customers=len(members),
                mean_predicted=float(chance[members].mean()),
                returned_rate=float(returned[members].mean()),
            )
        )
    return tuple(rows)


def _level_outcome(name: str, level: NDArray[np.object_], returned: NDArray[np.float64]) -> LevelOutcome:
    members = level == name
    count = int(members.sum())
    return LevelOutcome(name, count, float(returned[members].mean()) if count else None)


def _list_outcome(
    listed: NDArray[np.bool_], eligible: NDArray[np.bool_], returned: NDArray[np.float64]
) -> ListOutcome:
    stayed_away = returned == 0
    caught = int((listed & stayed_away).sum())
    count = int(listed.sum())
    missed_pool = int((eligible & stayed_away).sum())
    return ListOutcome(
        customers=count,
        share=count / len(listed) if len(listed) else 0.0,
        precision=caught / count if count else None,
        recall=caught / missed_pool if missed_pool else None,
    )
