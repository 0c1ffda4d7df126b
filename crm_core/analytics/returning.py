"""The chance that a customer buys again within the horizon (90 days): what churn risk is judged on.

Chosen by measurement (docs/ANALYTICS.md): on CDNOW, MBG/NBD's chance of a purchase ranks returning
customers about as well as any candidate (AUC 0.789; BG/NBD's P(alive) 0.335), but a Poisson buyer
model underrates customers who bought many times: they are more regular than Poisson. So the
model's chance is recalibrated on the store's own history, by a rolling origin: the same model is
fitted as of one horizon earlier, and a logistic curve in (logit of its chance, log(1 + repeat
purchases)) is fitted to who actually bought in the horizon since. That is three numbers learned
from what was known on ``today``; it lifts CDNOW's AUC to 0.793 and keeps the chances calibrated.
With too little history for that (a young store), the model's own chance is used as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, logit

from crm_core.analytics.aligned import aligned
from crm_core.analytics.bgnbd import bgnbd_summary
from crm_core.analytics.history import PurchaseDays
from crm_core.analytics.mbgnbd import MbgNbdFit, fit_mbgnbd, p_purchase_within

HORIZON_DAYS = 90
# Customers who did, and who did not, buy in the earlier horizon needed to learn a calibration:
# with fewer, three coefficients would follow noise.
MIN_OUTCOMES = 30
# Chances are kept off 0 and 1 so their logits stay finite.
_EDGE = 1e-6

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """P(return) = expit(intercept + slope · logit(model's chance) + per_repeat · log(1 + x)
    + per_overdue · log(1 + silence / own median gap)), the last term 0 for one-time buyers.

    ``origin`` is the date whose next horizon it was learned on; None for the identity (not learned).
    """

    intercept: float
    slope: float
    per_repeat: float
    per_overdue: float
    origin: dt.date | None


IDENTITY = Calibration(intercept=0.0, slope=1.0, per_repeat=0.0, per_overdue=0.0, origin=None)


@dataclass(frozen=True)
class ReturnModel:
    """MBG/NBD fitted on the history up to a date, its calibration, and the horizon it predicts."""

    mbgnbd: MbgNbdFit
    calibration: Calibration
    horizon_days: int


def fit_return_model(
    purchases: PurchaseDays, today: dt.date, horizon_days: int = HORIZON_DAYS
) -> ReturnModel | None:
    """The model as of the end of ``today``; None when MBG/NBD cannot be fitted (too few repeat buyers)."""
    fit = fit_mbgnbd(bgnbd_summary(purchases, today))
    if fit is None:
        return None
    return ReturnModel(fit, _learn_calibration(purchases, today, horizon_days), horizon_days)


def p_return(model: ReturnModel, purchases: PurchaseDays, today: dt.date) -> pd.Series:
    """P(at least one purchase in the ``horizon_days`` after ``today``) per customer who bought by then.

    ``model`` may have been fitted at another date: its parameters judge the history cut at ``today``.
    """
    summary = bgnbd_summary(purchases, today)
    overdue = _overdue(purchases, today, summary)
    chance = _calibrated(model.mbgnbd, model.calibration, summary, overdue, model.horizon_days)
    return pd.Series(chance, index=summary.index, name="p_return")


def _calibrated(
    fit: MbgNbdFit, calibration: Calibration, summary: pd.DataFrame, overdue: FloatArray, horizon: int
) -> FloatArray:
    raw = p_purchase_within(fit.params, horizon, summary["x"], summary["t_x"], summary["T"])
    if calibration.origin is None:
        return raw
    return np.asarray(expit(_features(raw, summary, overdue) @ _coefficients(calibration)), dtype=np.float64)


def _features(raw: FloatArray, summary: pd.DataFrame, overdue: FloatArray) -> FloatArray:
    """Columns 1, logit(chance), log(1 + x), log(1 + silence / own usual gap)."""
    return np.column_stack(
        [np.ones(len(raw)), logit(np.clip(raw, _EDGE, 1 - _EDGE)), np.log1p(summary["x"].to_numpy()), overdue]
    )


def _overdue(purchases: PurchaseDays, today: dt.date, summary: pd.DataFrame) -> FloatArray:
    """log(1 + days since the last purchase / the customer's median gap); 0 for one-time buyers."""
    known = purchases.until(today)
    gap = aligned(known.median_gap_days, summary.index).to_numpy()
    silence = (summary["T"] - summary["t_x"]).to_numpy()
    return np.where(np.isnan(gap), 0.0, np.log1p(silence / np.fmax(gap, 1.0)))


def _coefficients(calibration: Calibration) -> FloatArray:
    return np.array(
        [calibration.intercept, calibration.slope, calibration.per_repeat, calibration.per_overdue]
    )


def _learn_calibration(purchases: PurchaseDays, today: dt.date, horizon: int) -> Calibration:
    """The calibration learned on the horizon that ended ``today``, or the identity if it cannot be."""
    origin = today - dt.timedelta(days=horizon)
    summary = bgnbd_summary(purchases, origin)
    earlier = fit_mbgnbd(summary)
    if earlier is None:
        return IDENTITY
    days_then = purchases.until(origin).per_customer["purchase_days"]
    days_now = aligned(purchases.until(today).per_customer["purchase_days"], summary.index)
    bought = (days_now.to_numpy() > aligned(days_then, summary.index).to_numpy()).astype("float64")
    returned = int(bought.sum())
    if min(returned, len(bought) - returned) < MIN_OUTCOMES:
        return IDENTITY
    raw = p_purchase_within(earlier.params, horizon, summary["x"], summary["t_x"], summary["T"])
    features = _features(raw, summary, _overdue(purchases, origin, summary))
    result = minimize(
        _logistic_loss, x0=_coefficients(IDENTITY), args=(features, bought), jac=True, method="L-BFGS-B"
    )
    intercept, slope, per_repeat, per_overdue = (float(v) for v in result.x)
    return Calibration(intercept, slope, per_repeat, per_overdue, origin)


def _logistic_loss(
    coefficients: FloatArray, features: FloatArray, outcome: FloatArray
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood of a logistic regression, and its gradient."""
    z = features @ coefficients
    loss = np.mean(np.logaddexp(0.0, z) - outcome * z)
    gradient = features.T @ (expit(z) - outcome) / len(outcome)
    return float(loss), gradient
