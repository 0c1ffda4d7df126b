"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys at a Poisson rate λ (Gamma(r, α) across customers) and after each purchase
drops out with probability p (Beta(a, b) across customers). Three numbers per customer are enough:
x repeat purchase days, t_x from the first to the last purchase, T from the first purchase to ``today``.
Everything is computed in log space so customers with hundreds of purchases do not overflow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import OptimizeResult, minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

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
    # Times are rescaled so the longest T is 10: the optimiser then starts near the optimum's scale.
    # Only α depends on the time scale, so it is the only parameter scaled back.
    scale = float(summary["T"].max()) / 10.0
    rows = _LikelihoodRows.from_summary(summary, scale)
    result = minimize_in_log_params(_negative_mean_log_likelihood, rows)
    r, alpha, a, b = np.exp(result.x)
    # Rescaling time multiplies each customer's likelihood by scale^x (the density of t_x), so the
    # log-likelihood in the caller's unit follows from the optimum without evaluating it again.
    log_likelihood = -float(result.fun) * rows.customers - rows.repeat_purchases * np.log(scale)
    return BgNbdFit(
        params=BgNbdParams(r=float(r), alpha=float(alpha * scale), a=float(a), b=float(b)),
        unit=unit,
        customers=rows.customers,
        log_likelihood=float(log_likelihood),
        converged=bool(result.success),
    )


def minimize_in_log_params(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]], rows: Any
) -> OptimizeResult:
    """L-BFGS-B on the four log-parameters from 0 (all parameters 1), within the plausible box.

    L-BFGS-B makes BLAS calls on four-element vectors at every step. OpenBLAS hands them to its
    threads, and on a busy machine each hand-over waits for a scheduler slice: the optimiser's own
    work took up to ten times as long as the likelihood. One thread has nothing to wait for.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return minimize(
            objective,
            x0=np.zeros(4),
            args=(rows,),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * 4,
            options={"ftol": 1e-13, "gtol": 1e-9},
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
    """A summary as the likelihood needs it, in the fit's rescaled time.

    One-time buyers cannot have dropped out, so T is all that varies among them: they are kept as
    counts per distinct T. Repeat buyers stay one row each (grouping equal (x, t_x, T) rows saves a
    quarter of them at a million customers, and the grouping costs about what it saves); the special
    functions of x (gammaln, digamma) are evaluated once per distinct x.
    """

    customers: int
    repeat_purchases: float  # Σx
    once_T: FloatArray  # distinct T of one-time buyers
    once_count: FloatArray  # one-time buyers per distinct T
    x: FloatArray  # per repeat buyer
    t_x: FloatArray
    T: FloatArray
    x_values: FloatArray  # distinct x of repeat buyers
    x_row: NDArray[np.intp]  # each repeat buyer's position in x_values
    x_count: FloatArray  # repeat buyers per distinct x

    @classmethod
    def from_summary(cls, summary: pd.DataFrame, scale: float) -> _LikelihoodRows:
        """Rows with times divided by ``scale``."""
        x = summary["x"].to_numpy(dtype="float64")
        t_x = summary["t_x"].to_numpy(dtype="float64") / scale
        T = summary["T"].to_numpy(dtype="float64") / scale
        repeat = x > 0
        once_T, once_count = np.unique(T[~repeat], return_counts=True)
        x_row, x_values = pd.factorize(x[repeat])
        return cls(
            customers=len(x),
            repeat_purchases=float(x.sum()),
            once_T=once_T,
            once_count=once_count.astype("float64"),
            x=x[repeat],
            t_x=t_x[repeat],
            T=T[repeat],
            x_values=np.asarray(x_values, dtype="float64"),
            x_row=x_row,
            x_count=np.bincount(x_row).astype("float64"),
        )


def _negative_mean_log_likelihood(log_params: FloatArray, rows: _LikelihoodRows) -> tuple[float, FloatArray]:
    # The optimiser works on log-parameters so every parameter stays positive (chain rule below).
    r, alpha, a, b = np.exp(log_params)
    value, gradient = _log_likelihood(BgNbdParams(r=r, alpha=alpha, a=a, b=b), rows)
    return -value / rows.customers, -gradient * np.array([r, alpha, a, b]) / rows.customers


def _log_likelihood(params: BgNbdParams, rows: _LikelihoodRows) -> tuple[float, FloatArray]:
    """Log-likelihood (the paper's eq. 6 in logs) and its gradient in (r, α, a, b).

    L = A1 · A2 · (α+T)^-(r+x) · (1 + [x>0] e^u) with u = log(a/(b+x-1)) + (r+x) log((α+T)/(α+t_x)),
    the log-odds that a repeat buyer dropped out after t_x. The terms of x alone are summed per
    distinct x, those of one-time buyers per distinct T, and only the rest per repeat buyer.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xv, per_x = rows.x_values, rows.x_count
    log_a1_a2_x = (
        gammaln(r + xv) - gammaln(r) + gammaln(a + b) + gammaln(b + xv) - gammaln(b) - gammaln(a + b + xv)
    )
    d_r_x = digamma(r + xv) - digamma(r)
    d_a_x = digamma(a + b) - digamma(a + b + xv)
    d_b_x = d_a_x + digamma(b + xv) - digamma(b)
    b_x_1 = b + xv - 1.0

    log_once = np.log(alpha + rows.once_T)
    once = rows.once_count

    x, t_x, T = rows.x, rows.t_x, rows.T
    r_x, alpha_T, alpha_t_x = r + x, alpha + T, alpha + t_x
    log_alpha_T = np.log(alpha_T)
    gap = log_alpha_T - np.log(alpha_t_x)
    u = (np.log(a) - np.log(b_x_1))[rows.x_row] + r_x * gap
    # log(1 + e^u) and e^u / (1 + e^u), the share of the likelihood from having dropped out after
    # t_x, in the form that cannot overflow. np.logaddexp and expit take ten times as long.
    log_1_e_u = np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))
    dropped = np.exp(u - log_1_e_u)
    inverse_alpha_T = 1.0 / alpha_T
    dropped_per_x = np.bincount(rows.x_row, weights=dropped, minlength=len(xv))

    value = (
        rows.customers * r * np.log(alpha)
        + np.sum(per_x * log_a1_a2_x)
        - r * np.sum(once * log_once)
        - np.sum(r_x * log_alpha_T)
        + np.sum(log_1_e_u)
    )
    d_r = (
        rows.customers * np.log(alpha)
        + np.sum(per_x * d_r_x)
        - np.sum(once * log_once)
        - np.sum(log_alpha_T)
        + np.sum(dropped * gap)
    )
    d_alpha = (
        rows.customers * r / alpha
        - r * np.sum(once / (alpha + rows.once_T))
        - np.sum(r_x * (inverse_alpha_T + dropped * (1.0 / alpha_t_x - inverse_alpha_T)))
    )
    d_a = np.sum(per_x * d_a_x) + np.sum(dropped_per_x) / a
    d_b = np.sum(per_x * d_b_x - dropped_per_x / b_x_1)
    return float(value), np.array([d_r, d_alpha, d_a, d_b])
