import datetime as dt

import numpy as np
import pytest

from crm_core.analytics.bgnbd import BgNbdFit, BgNbdParams, bgnbd_summary, expected_purchases
from crm_core.analytics.gamma_gamma import GammaGammaParams, expected_order_value
from crm_core.analytics.ltv import LTV_COLUMNS, lifetime_value
from tests.crm_core.analytics.analytics_frames import purchase_days

TODAY = dt.date(2024, 6, 30)
# CDNOW's parameters with α in days.
BGNBD = BgNbdFit(BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426), "days", 2357, 0.0, True)
SPEND = GammaGammaParams(p=6.25, q=3.74, v=15.44)
DAYS = purchase_days(
    (1, "2024-01-10", 40.0),
    (1, "2024-03-01", 60.0),
    (1, "2024-05-01", 20.0),
    (1, "2024-05-02", -20.0),
    (2, "2024-06-20", 30.0),
)


def test_historical_revenue_is_net_and_nothing_is_predicted_without_a_model() -> None:
    value = lifetime_value(DAYS, TODAY, bgnbd=None, spend=None)

    assert tuple(value.columns) == LTV_COLUMNS
    assert value["historical_revenue"].tolist() == [100.0, 30.0]
    assert value["predicted_value_90d"].isna().all()


def test_without_a_spend_model_each_customer_is_worth_their_own_average_order() -> None:
    value = lifetime_value(DAYS, TODAY, bgnbd=BGNBD, spend=None)

    summary = bgnbd_summary(DAYS, TODAY)
    expected = expected_purchases(BGNBD.params, 90.0, summary["x"], summary["t_x"], summary["T"])
    np.testing.assert_allclose(value["expected_purchases_90d"], expected)
    assert value["expected_order_value"].tolist() == pytest.approx([100.0 / 3, 30.0])
    np.testing.assert_allclose(value["predicted_value_90d"], expected * [100.0 / 3, 30.0])


def test_with_a_spend_model_order_values_come_from_gamma_gamma() -> None:
    value = lifetime_value(DAYS, TODAY, bgnbd=BGNBD, spend=SPEND)

    # Customer 1's repeat orders average 40; customer 2 has none and gets the population mean.
    np.testing.assert_allclose(
        value["expected_order_value"], expected_order_value(SPEND, [2, 0], [40.0, 0.0])
    )
    np.testing.assert_allclose(
        value["predicted_value_90d"], value["expected_purchases_90d"] * value["expected_order_value"]
    )
