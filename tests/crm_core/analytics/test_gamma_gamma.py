import datetime as dt

import pandas as pd
import pytest

from crm_core.analytics.gamma_gamma import (
    GammaGammaParams,
    expected_order_value,
    fit_gamma_gamma,
    spend_summary,
)
from tests.crm_core.analytics.analytics_frames import CDNOW_CALIBRATION_END, cdnow_purchases, purchase_days

# Fader, Hardie & Lee (2005), "RFM and CLV": the spend model on the same CDNOW calibration period.
PAPER = GammaGammaParams(p=6.25, q=3.74, v=15.44)


def test_fit_reproduces_the_papers_cdnow_estimates() -> None:
    fit = fit_gamma_gamma(spend_summary(cdnow_purchases(), CDNOW_CALIBRATION_END))

    assert fit is not None
    for name in ("p", "q", "v"):
        assert getattr(fit, name) == pytest.approx(getattr(PAPER, name), rel=0.01), name


def test_spend_summary_averages_repeat_purchase_days_only() -> None:
    days = purchase_days(
        (1, "2024-01-01", 100.0),  # the first purchase is left out
        (1, "2024-01-10 09:00", 20.0),
        (1, "2024-01-10 18:00", 10.0),  # one day, one order of 30
        (1, "2024-01-12", -30.0),  # refunds are not orders
        (1, "2024-01-20", 50.0),
        (2, "2024-01-05", 70.0),
        (1, "2024-03-01", 1000.0),  # after today
    )

    summary = spend_summary(days, dt.date(2024, 1, 31))

    assert summary.to_dict("index") == {1: {"x": 2.0, "mean_value": 40.0}, 2: {"x": 0.0, "mean_value": 0.0}}


def test_fit_declines_when_too_few_customers_came_back() -> None:
    summary = pd.DataFrame({"x": [2.0] * 9 + [0.0] * 100, "mean_value": [30.0] * 9 + [0.0] * 100})

    assert fit_gamma_gamma(summary) is None


def test_expected_order_value_shrinks_towards_the_population_mean() -> None:
    population_mean = PAPER.p * PAPER.v / (PAPER.q - 1)

    one_time, few, many = expected_order_value(PAPER, [0, 1, 1000], [0.0, 100.0, 100.0])

    assert one_time == pytest.approx(population_mean)
    assert population_mean < few < 100.0
    assert many == pytest.approx(100.0, rel=0.01)
