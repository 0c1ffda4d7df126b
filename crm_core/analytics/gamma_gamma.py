"""The Gamma-Gamma model of order value (Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's order values scatter around their own mean; the model shrinks each customer's observed
mean towards the population's, more strongly the fewer orders we have seen. It is fitted on repeat
purchase days only, as in the paper: the first order is often atypical (a trial, a welcome offer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from crm_core.analytics.history import PurchaseDays

# Below this many repeat buyers the fit is mostly prior; LTV then uses each customer's own average.
MIN_REPEAT_CUSTOMERS = 10

# As for BG/NBD: a plausible box, so data without heterogeneity stop at "all alike" instead of
# wandering off to infinity.
_LOG_PARAM_BOUND = float(np.log(1e4))

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """p: shape of one customer's order values; q, v: the Gamma mix of their scale across customers."""

    p: float
    q: float
    v: float


def spend_summary(days: PurchaseDays, today: dt.date) -> pd.DataFrame:
    """Columns ``x`` (repeat purchase days) and ``mean_value`` (mean spend of those days; 0 if none).

    Indexed by customer_id, for every customer who bought by ``today``.
    """
    return days.until(today).repeat_spend


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaParams | None:
    """Maximum-likelihood fit on customers with repeat purchases, or None when it cannot be trusted.

    None when there are too few repeat buyers, when the optimiser fails, or when q ≤ 1: then the
    population's mean order value is infinite and the model's expectations are meaningless.
    """
    usable = summary[(summary["x"] > 0) & (summary["mean_value"] > 0)]
    if len(usable) < MIN_REPEAT_CUSTOMERS:
        return None
    mean_value = usable["mean_value"].to_numpy(dtype="float64")
    # Money comes in any currency; rescaling to a mean of 1 keeps the optimiser's start sensible.
    # Only v carries the currency, so it is the only parameter scaled back.
    scale = float(mean_value.mean())
    result = minimize(
        _negative_mean_log_likelihood,
        x0=np.zeros(3),
        args=(_SpendRows.from_arrays(usable["x"].to_numpy(dtype="float64"), mean_value / scale),),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * 3,
        options={"ftol": 1e-13, "gtol": 1e-9},
    )
    p, q, v = np.exp(result.x)
    if not result.success or q <= 1.0:
        return None
    return GammaGammaParams(p=float(p), q=float(q), v=float(v * scale))


def expected_order_value(params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike) -> FloatArray:
    """E[order value | x repeat orders averaging ``mean_value``]: a credibility-weighted mean.

    With x = 0 this is the population mean p·v/(q-1), which is what a one-time buyer should expect.
    """
    x_ = np.asarray(x, dtype="float64")
    m = np.asarray(mean_value, dtype="float64")
    p, q, v = params.p, params.q, params.v
    return np.asarray(p * (v + x_ * m) / (p * x_ + q - 1.0), dtype="float64")


@dataclass(frozen=True)
class _SpendRows:
    """One row per repeat buyer; x takes few values, so its special functions are computed per value."""

    x_values: FloatArray
    x_row: NDArray[np.intp]
    x: FloatArray
    log_mean_value: FloatArray
    total: FloatArray

    @classmethod
    def from_arrays(cls, x: FloatArray, mean_value: FloatArray) -> _SpendRows:
        x_values, x_row = np.unique(x, return_inverse=True)
        return cls(x_values, x_row, x, np.log(mean_value), x * mean_value)


def _negative_mean_log_likelihood(log_params: FloatArray, rows: _SpendRows) -> tuple[float, FloatArray]:
    """Mean per customer, so the optimiser's tolerances mean the same for any number of customers."""
    p, q, v = np.exp(log_params)
    xv, row, x = rows.x_values, rows.x_row, rows.x
    pxv = p * xv
    per_x = gammaln(pxv + q) - gammaln(pxv) - gammaln(q) + pxv * np.log(xv)
    d_p_x = xv * (digamma(pxv + q) - digamma(pxv) + np.log(xv))
    d_q_x = digamma(pxv + q) - digamma(q)

    px = p * x
    log_total = np.log(rows.total + v)
    log_likelihood = per_x[row] + q * np.log(v) + (px - 1.0) * rows.log_mean_value - (px + q) * log_total
    d_p = d_p_x[row] + x * (rows.log_mean_value - log_total)
    d_q = d_q_x[row] + np.log(v) - log_total
    d_v = q / v - (px + q) / (rows.total + v)
    # The optimiser works on log-parameters so every parameter stays positive (chain rule).
    gradient = np.array([d_p.mean(), d_q.mean(), d_v.mean()]) * np.array([p, q, v])
    return -float(log_likelihood.mean()), -gradient
