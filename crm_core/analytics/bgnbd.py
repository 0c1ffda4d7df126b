"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys at a Poisson rate λ (Gamma(r, α) across customers) and after each purchase
drops out with probability p (Beta(a, b) across customers). Three numbers per customer are enough:
x repeat purchase days, t_x from the first to the last purchase, T from the first purchase to ``today``.
Everything is computed in log space so customers with hundreds of purchases do not overflow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from crm_core.analytics.history import PurchaseDays, day_number

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[TimeUnit, int] = {"days": 1, "weeks": 7}

# With fewer repeat buyers the likelihood is nearly flat in a and b, and the maximum drifts to the
# boundary; P(alive) from such a fit would tell reps more than the data know.
MIN_REPEAT_CUSTOMERS = 10

# Parameters are kept within [1e-4, 1e4] (α in the fit's rescaled time). Data without heterogeneity
# or without drop-out push the maximum to infinity along a flat ridge, where 2F1 can no longer be
# evaluated; at 1e4 the model already says "all alike" or "nobody leaves" as plainly.
_LOG_PARAM_BOUND = float(np.log(1e4))

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """r, α: the Gamma purchase-rate mix (α in the fit's time unit); a, b: the Beta drop-out mix."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class BgNbdFit:
    """Parameters with what is needed to judge and reuse them (the unit fixes α's meaning)."""

    params: BgNbdParams
    unit: TimeUnit
    customers: int
    log_likelihood: float
    converged: bool


def bgnbd_summary(days: PurchaseDays, today: dt.date, unit: TimeUnit = "days") -> pd.DataFrame:
    """Columns ``x``, ``t_x``, ``T`` per customer who bought by ``today``, indexed by customer_id.

    Purchases after ``today`` are left out, so the same history gives the summary as of any date.
    """
    history = days.until(today).per_customer
    length = float(UNIT_DAYS[unit])
    return pd.DataFrame(
        {
            "x": (history["purchase_days"] - 1).astype("float64"),
            "t_x": (history["last_day"] - history["first_day"]) / length,
            "T": (day_number(today) - history["first_day"]) / length,
        },
        index=history.index,
    )


def fit_bgnbd(summary: pd.DataFrame, unit: TimeUnit = "days") -> BgNbdFit | None:
    """Maximum-likelihood fit, or None when there are too few repeat buyers to say anything.

    ``unit`` must be the one the summary was built with; it is kept so α can be read correctly.
    """
    if int((summary["x"] > 0).sum()) < MIN_REPEAT_CUSTOMERS:
        return None
    rows = _LikelihoodRows.from_summary(summary)
    # Times are rescaled so the longest T is 10: the optimiser then starts near the optimum's scale.
    # Only α depends on the time scale, so it is the only parameter scaled back.
    scale = float(rows.T.max()) / 10.0
    result = minimize(
        _negative_mean_log_likelihood,
        x0=np.zeros(4),
        args=(rows.rescaled(scale),),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * 4,
        options={"ftol": 1e-13, "gtol": 1e-9},
    )
    r, alpha, a, b = np.exp(result.x)
    params = BgNbdParams(r=float(r), alpha=float(alpha * scale), a=float(a), b=float(b))
    log_likelihood, _ = _log_likelihood(params, rows)
    return BgNbdFit(
        params=params,
        unit=unit,
        customers=len(summary),
        log_likelihood=log_likelihood,
        converged=bool(result.success),
    )


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(still active | x, t_x, T); 1 for customers with no repeat purchase, as the model has it.

    The model only lets a customer drop out right after a purchase, so a one-time buyer is alive.
    """
    x_, t_x_, T_ = _as_arrays(x, t_x, T)
    repeat = x_ > 0
    log_odds_dead = (
        np.log(params.a)
        - np.log(np.where(repeat, params.b + x_ - 1.0, 1.0))
        + (params.r + x_) * (np.log(params.alpha + T_) - np.log(params.alpha + t_x_))
    )
    return np.where(repeat, expit(-log_odds_dead), 1.0)


def expected_purchases(
    params: BgNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Expected purchases in the next ``t`` periods given the history (the paper's eq. 10).

    Eq. 10 is P(alive) times the expectation for a customer known to be alive. That second factor
    holds 2F1(r+x, b+x; a+b+x-1; z), which overflows for large x; Euler's transformation
    2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) leaves only small parameters up top,
    and its prefactor cancels the paper's ((α+T)/(α+T+t))^(r+x). NaN where 2F1 cannot be evaluated.
    """
    x_, t_x_, T_ = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T_ + t)
    tail = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x_ - 1.0, z)
    expectation = (a + b + x_ - 1.0) / (a - 1.0) * tail * p_alive(params, x_, t_x_, T_)
    # Where 2F1 still gives up (parameters at the edge of the fit's box), say "unknown", not inf.
    return np.where(np.isfinite(expectation), expectation, np.nan)


def _as_arrays(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (
        np.asarray(x, dtype="float64"),
        np.asarray(t_x, dtype="float64"),
        np.asarray(T, dtype="float64"),
    )


@dataclass(frozen=True)
class _LikelihoodRows:
    """Distinct (x, t_x, T) rows with how many customers share each.

    Day-level data repeat a lot, and x takes few values, so the special functions of x (gammaln,
    digamma) are evaluated once per distinct x: the likelihood costs a few logs per row.
    """

    x_values: FloatArray
    x_row: NDArray[np.intp]
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray

    @classmethod
    def from_summary(cls, summary: pd.DataFrame) -> _LikelihoodRows:
        counted = summary.groupby(["x", "t_x", "T"], sort=False).size()
        x, t_x, T = (counted.index.get_level_values(level).to_numpy(dtype="float64") for level in range(3))
        x_values, x_row = np.unique(x, return_inverse=True)
        return cls(x_values, x_row, t_x, T, np.asarray(counted, dtype=np.float64))

    @property
    def x(self) -> FloatArray:
        return self.x_values[self.x_row]

    def rescaled(self, scale: float) -> _LikelihoodRows:
        """Times divided by ``scale`` and weights summing to 1, as the optimiser wants them."""
        return replace(
            self, t_x=self.t_x / scale, T=self.T / scale, weights=self.weights / self.weights.sum()
        )


def _negative_mean_log_likelihood(log_params: FloatArray, rows: _LikelihoodRows) -> tuple[float, FloatArray]:
    # The optimiser works on log-parameters so every parameter stays positive (chain rule below).
    r, alpha, a, b = np.exp(log_params)
    value, gradient = _log_likelihood(BgNbdParams(r=r, alpha=alpha, a=a, b=b), rows)
    return -value, -gradient * np.array([r, alpha, a, b])


def _log_likelihood(params: BgNbdParams, rows: _LikelihoodRows) -> tuple[float, FloatArray]:
    """Weighted log-likelihood (the paper's eq. 6 in logs) and its gradient in (r, α, a, b).

    L = A1 · A2 · [(α+T)^-(r+x) + [x>0] a/(b+x-1) · (α+t_x)^-(r+x)], summed with logaddexp;
    the terms of x alone are computed per distinct x and then spread to the rows.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xv, row, w = rows.x_values, rows.x_row, rows.weights
    log_a1_a2 = (
        gammaln(r + xv) - gammaln(r) + gammaln(a + b) + gammaln(b + xv) - gammaln(b) - gammaln(a + b + xv)
    )[row] + r * np.log(alpha)
    d_r_x = (digamma(r + xv) - digamma(r))[row] + np.log(alpha)
    d_a_x = (digamma(a + b) - digamma(a + b + xv))[row]
    d_b_x = d_a_x + (digamma(b + xv) - digamma(b))[row]
    b_x_1 = np.where(xv > 0, b + xv - 1.0, 1.0)[row]

    x, t_x, T = rows.x, rows.t_x, rows.T
    log_alpha_T, log_alpha_t_x = np.log(alpha + T), np.log(alpha + t_x)
    log_alive = -(r + x) * log_alpha_T
    log_dropped = np.where(x > 0, np.log(a) - np.log(b_x_1) - (r + x) * log_alpha_t_x, -np.inf)
    log_mix = np.logaddexp(log_alive, log_dropped)
    dropped = np.exp(log_dropped - log_mix)
    alive = 1.0 - dropped

    d_r = d_r_x - alive * log_alpha_T - dropped * log_alpha_t_x
    d_alpha = r / alpha - (r + x) * (alive / (alpha + T) + dropped / (alpha + t_x))
    d_a = d_a_x + dropped / a
    d_b = d_b_x - dropped / b_x_1
    gradient = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)])
    return float(np.dot(w, log_a1_a2 + log_mix)), gradient
