import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from crm_core.analytics.bgnbd import (
    BgNbdParams,
    _LikelihoodRows,
    _log_likelihood,
    bgnbd_summary,
    expected_purchases,
    fit_bgnbd,
    p_alive,
)
from tests.crm_core.analytics.analytics_frames import CDNOW_CALIBRATION_END, cdnow_purchases, purchase_days

# Fader, Hardie & Lee (2005), section 5: the CDNOW calibration fit, per week.
PAPER = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PAPER_LOG_LIKELIHOOD = -9582.4


def test_fit_reproduces_the_papers_cdnow_estimates_per_week() -> None:
    summary = bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END, unit="weeks")
    fit = fit_bgnbd(summary, unit="weeks")

    assert fit is not None and fit.converged
    assert (fit.customers, fit.unit) == (2357, "weeks")
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit.params, name) == pytest.approx(getattr(PAPER, name), rel=0.01), name
    assert fit.log_likelihood == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.1)


def test_fit_in_days_is_the_same_model_with_alpha_in_days() -> None:
    weeks = fit_bgnbd(bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END, unit="weeks"), unit="weeks")
    days = fit_bgnbd(bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END), unit="days")

    assert weeks is not None and days is not None
    assert days.params.alpha / 7 == pytest.approx(weeks.params.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(days.params, name) == pytest.approx(getattr(weeks.params, name), rel=1e-4)


def test_summary_gives_the_papers_numbers_for_the_first_cdnow_customer() -> None:
    summary = bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END, unit="weeks")

    assert len(summary) == 2357
    assert summary.loc[1].to_dict() == pytest.approx({"x": 2, "t_x": 30.43, "T": 38.86}, abs=0.005)


def test_summary_counts_purchase_days_and_ignores_refunds_and_the_future() -> None:
    days = purchase_days(
        (7, "2024-01-01 09:00", 10.0),
        (7, "2024-01-01 17:00", 5.0),  # same day: one purchase occasion
        (7, "2024-01-15 12:00", 20.0),
        (7, "2024-01-20 12:00", -20.0),  # a refund is not a purchase
        (7, "2024-02-01 12:00", 30.0),  # after today
    )

    summary = bgnbd_summary(days, dt.date(2024, 1, 31))

    assert summary.loc[7].to_dict() == {"x": 1.0, "t_x": 14.0, "T": 30.0}


def test_fit_declines_when_too_few_customers_came_back() -> None:
    summary = pd.DataFrame({"x": [1.0] * 9 + [0.0] * 500, "t_x": [5.0] * 9 + [0.0] * 500, "T": [30.0] * 509})

    assert fit_bgnbd(summary) is None


def test_p_alive_is_one_for_customers_without_repeat_purchases() -> None:
    assert p_alive(PAPER, [0, 0], [0.0, 0.0], [1.0, 52.0]).tolist() == [1.0, 1.0]


def test_p_alive_falls_while_a_repeat_buyer_stays_silent() -> None:
    ages = np.array([20.0, 30.0, 40.0, 80.0])

    alive = p_alive(PAPER, np.full(4, 3.0), np.full(4, 20.0), ages)

    assert alive[0] == pytest.approx(1 / (1 + PAPER.a / (PAPER.b + 2)))  # bought at the last moment
    assert np.all(np.diff(alive) < 0)


def test_expected_purchases_follow_the_papers_equation_10() -> None:
    x = np.arange(0.0, 25.0)
    t_x, T, t = 30.43, 38.86, 39.0
    r, alpha, a, b = PAPER.r, PAPER.alpha, PAPER.a, PAPER.b
    by_hand = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        )
        / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )

    computed = expected_purchases(PAPER, t, x, np.full_like(x, t_x), np.full_like(x, T))

    np.testing.assert_allclose(computed, by_hand, rtol=1e-9)
    # The worked example in Hardie's implementation note: customer 1 over the next 39 weeks.
    assert computed[2] == pytest.approx(1.226, abs=5e-4)


def test_expected_purchases_stay_finite_for_customers_with_thousands_of_purchases() -> None:
    x = np.array([500.0, 2000.0, 5000.0])
    T = np.full(3, 300.0)

    computed = expected_purchases(PAPER, 10.0, x, T, T)

    # With that much history the rate is known, (r+x)/(α+T) per week, and drop-out is negligible.
    rate = (PAPER.r + x) / (PAPER.alpha + T)
    np.testing.assert_allclose(computed, rate * 10.0, rtol=0.02)


def test_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = BgNbdParams(r=0.5, alpha=6.0, a=0.7, b=2.5)
    summary = _simulate(truth, customers=30_000, rng=np.random.default_rng(2005))

    fit = fit_bgnbd(summary, unit="weeks")

    assert fit is not None and fit.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit.params, name) == pytest.approx(getattr(truth, name), rel=0.15), name


def test_likelihood_gradient_matches_finite_differences() -> None:
    # The optimiser trusts the analytic gradient: a wrong one still "converges", to the wrong place.
    rows = _LikelihoodRows.from_summary(_simulate(PAPER, customers=2_000, rng=np.random.default_rng(7)), 7.0)
    at = np.array([0.4, 3.0, 1.2, 1.8])  # away from the optimum, where every component is sizeable
    assert len(rows.once_T) > 0 and len(rows.x) > 0  # one-time and repeat buyers both contribute

    _, gradient = _log_likelihood(BgNbdParams(*at), rows)

    steps = np.diag(1e-6 * at)
    numeric = [
        (_log_likelihood(BgNbdParams(*(at + h)), rows)[0] - _log_likelihood(BgNbdParams(*(at - h)), rows)[0])
        / (2 * h[i])
        for i, h in enumerate(steps)
    ]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5)


def _simulate(params: BgNbdParams, customers: int, rng: np.random.Generator) -> pd.DataFrame:
    """BG/NBD customers observed for 26 to 78 weeks after their first purchase.

    Drop-out happens after a repeat purchase with probability p, so the number of repeat purchases a
    customer would ever make is geometric; within the window the purchases are a Poisson process, and
    the k-th of n uniform arrival times is T times a Beta(k, n - k + 1) variable.
    """
    T = rng.uniform(26.0, 78.0, customers)
    rate = rng.gamma(params.r, 1.0 / params.alpha, customers)
    drop = rng.beta(params.a, params.b, customers)
    arrivals = rng.poisson(rate * T)
    x = np.minimum(arrivals, rng.geometric(drop))
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return pd.DataFrame({"x": x.astype(float), "t_x": t_x, "T": T})
