"""Every customer's scores in one frame: what the profile card, the digest and the CLI show.

The raw frames are validated and aggregated to days once, the models are fitted once, and each
score is then a column computed for all customers at the same time; nothing loops over customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.analytics.aligned import aligned
from crm_core.analytics.bgnbd import BgNbdFit, bgnbd_summary, fit_bgnbd, p_alive
from crm_core.analytics.churn import REASON_COLUMNS, TREND_DAYS, churn_levels, churn_risk, reactivated
from crm_core.analytics.frames import validate_customers
from crm_core.analytics.gamma_gamma import GammaGammaParams, fit_gamma_gamma, spend_summary
from crm_core.analytics.history import ContactDays, PurchaseDays, day_number
from crm_core.analytics.ltv import lifetime_value
from crm_core.analytics.next_step import next_steps
from crm_core.analytics.returning import ReturnModel, fit_return_model
from crm_core.analytics.rfm import rfm_scores
from crm_core.analytics.vip import pareto_vips

SCORE_COLUMNS = (
    "p_return_90d",
    "p_alive",
    "expected_purchases_90d",
    "recency_days",
    "frequency",
    "monetary",
    "rfm_score",
    "segment",
    "revenue_12m",
    "vip",
    "churn_risk",
    *REASON_COLUMNS,
    "reactivated",
    "last_activity_on",
    "days_since_first_purchase",
    "next_step_key",
    "next_step",
    "historical_revenue",
    "expected_order_value",
    "predicted_value_90d",
)


@dataclass(frozen=True)
class ScoringFits:
    """The fitted models behind the scores; each is None when the data were too thin for it.

    ``returns`` judges churn (the chance of buying again); ``bgnbd`` gives P(alive) and, with
    ``spend``, the expected purchases and value.
    """

    bgnbd: BgNbdFit | None
    spend: GammaGammaParams | None
    returns: ReturnModel | None


def score_customers(
    customers: pd.DataFrame, purchases: pd.DataFrame, interactions: pd.DataFrame, today: dt.date
) -> tuple[pd.DataFrame, ScoringFits]:
    """``SCORE_COLUMNS`` for every customer in ``customers``, indexed by customer_id, and the fits.

    Customers who never bought have NaN (or empty) purchase scores and are judged by their contacts.
    Purchases and interactions after ``today`` are ignored, so a past day can be re-scored exactly.
    """
    days, fits = purchase_models(purchases, today=today)
    return score_histories(customers, days, contact_history(interactions), fits, today), fits


def purchase_models(purchases: pd.DataFrame, *, today: dt.date) -> tuple[PurchaseDays, ScoringFits]:
    """The purchases' day history, with the summaries every model reads of it made, and the models
    fitted on it as of ``today``."""
    days = PurchaseDays.from_purchases(purchases)
    fits = fit_models(days, today)
    return days.summarised(), fits


def contact_history(interactions: pd.DataFrame) -> ContactDays:
    """The contact days, with the summaries every model reads of them already made."""
    return ContactDays.from_interactions(interactions).summarised()


def fit_models(purchases: PurchaseDays, today: dt.date) -> ScoringFits:
    """BG/NBD, Gamma-Gamma and the return model fitted on the purchases known at the end of ``today``.

    One after the other: fitting the return model on a second thread saved about a second at a
    million customers but raised the job's peak memory by 90 to 220 MB (the thread's own malloc
    arena kept what its temporaries had freed). The morning and scoring jobs fit them all beside
    the reading of the contacts instead (``purchase_models`` in ``load_prepared``).
    """
    days = purchases.until(today)
    return ScoringFits(
        bgnbd=fit_bgnbd(bgnbd_summary(days, today), unit="days"),
        spend=fit_gamma_gamma(spend_summary(days, today)),
        returns=fit_return_model(purchases, today),
    )


def score_histories(
    customers: pd.DataFrame, purchases: PurchaseDays, contacts: ContactDays, fits: ScoringFits, today: dt.date
) -> pd.DataFrame:
    """``score_customers`` on histories already aggregated to days, with models fitted on them.

    For callers that judge other days from the same histories too (the digest compares with a week
    ago): aggregating tens of millions of rows once is the costly step, so it is not repeated.
    """
    index = validate_customers(customers).index
    days = purchases.until(today)
    contacts = contacts.until(today)
    month_ago = pd.Timestamp(today) - pd.Timedelta(days=TREND_DAYS)
    # A month ago first, while no score is held yet: judging a cut history takes the most memory.
    churn_before = churn_levels(
        customers=customers, purchases=days, contacts=contacts, returns=fits.returns, today=month_ago
    )
    # Today's risk next, while the other parts are not held yet: its chances of returning today and
    # a month ago take the most temporary memory of any score.
    churn_now = churn_risk(
        customers=customers, purchases=days, contacts=contacts, returns=fits.returns, today=today
    )
    # No model cuts the histories again here: the cuts kept for reuse (a month ago) are memory to
    # give back before the other parts are computed and the scores assembled.
    purchases.forget_cuts()
    contacts.forget_cuts()
    rfm = rfm_scores(days, today)
    vips = pareto_vips(days, today)
    value = lifetime_value(days, today, fits.bgnbd, fits.spend)
    first_purchase = days.per_customer["first_day"]

    parts = (
        rfm[["recency_days", "frequency", "monetary", "rfm_score", "segment"]],
        vips[["revenue_12m", "vip"]],
        value,
        churn_now,
    )
    # Assembled from the parts' columns as they are (every one aligned on ``index``), not concatenated
    # and joined: each of those copied all columns once more, 230 MB a time at a million customers,
    # while the parts were still held.
    columns: dict[Hashable, pd.Series] = {}
    for part in parts:
        columns.update(aligned(part, index).items())
    columns["vip"] = columns["vip"].fillna(False).astype(bool)
    columns["p_alive"] = aligned(_p_alive(days, fits.bgnbd, today), index)
    columns["reactivated"] = aligned(reactivated(before=churn_before, now=churn_now, since=month_ago), index)
    columns["days_since_first_purchase"] = day_number(today) - aligned(first_purchase, index)
    columns.update(next_steps(_frame(columns, index)).items())
    return _frame({column: columns[column] for column in SCORE_COLUMNS}, index)


def _frame(columns: dict[Hashable, pd.Series], index: pd.Index) -> pd.DataFrame:
    """A frame of columns already aligned on ``index``, sharing their arrays (pandas copies them
    on write, so sharing is safe)."""
    return pd.DataFrame({name: column.array for name, column in columns.items()}, index=index, copy=False)


def _p_alive(days: PurchaseDays, bgnbd: BgNbdFit | None, today: dt.date) -> pd.Series:
    """BG/NBD's P(alive) per buyer (1 for one-time buyers, as the model has it: not a churn score)."""
    if bgnbd is None:
        return pd.Series(np.nan, index=days.until(today).per_customer.index)
    summary = bgnbd_summary(days, today, unit=bgnbd.unit)
    return pd.Series(p_alive(bgnbd.params, summary["x"], summary["t_x"], summary["T"]), index=summary.index)
