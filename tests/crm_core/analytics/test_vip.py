import datetime as dt

import numpy as np

from crm_core.analytics.vip import pareto_vips
from tests.crm_core.analytics.analytics_frames import purchase_days

TODAY = dt.date(2024, 6, 30)


def _vips(*revenues: tuple[int, float]) -> list[int]:
    days = purchase_days(*((customer, "2024-06-01", amount) for customer, amount in revenues))
    result = pareto_vips(days, TODAY)
    return result.index[result["vip"]].tolist()


def test_the_fewest_top_customers_reaching_80_percent_are_vips() -> None:
    assert _vips((1, 50.0), (2, 30.0), (3, 10.0), (4, 5.0), (5, 5.0)) == [1, 2]
    assert _vips((1, 50.0), (2, 29.0), (3, 11.0), (4, 5.0), (5, 5.0)) == [1, 2, 3]


def test_ties_at_the_cut_go_to_the_lower_customer_id() -> None:
    assert _vips((8, 40.0), (3, 40.0), (5, 10.0), (6, 10.0)) == [3, 8]
    assert _vips((9, 70.0), (4, 20.0), (2, 20.0)) == [2, 9]


def test_cumulative_share_runs_in_revenue_order() -> None:
    days = purchase_days((1, "2024-06-01", 25.0), (2, "2024-06-01", 75.0))

    result = pareto_vips(days, TODAY)

    assert result.loc[[2, 1], "cumulative_share"].tolist() == [0.75, 1.0]
    assert result.loc[[1, 2], "revenue_12m"].tolist() == [25.0, 75.0]


def test_nobody_is_a_vip_when_there_is_no_revenue() -> None:
    days = purchase_days((1, "2024-06-01", 0.0), (2, "2022-01-01", 500.0))

    result = pareto_vips(days, TODAY)

    assert not result["vip"].any()
    assert result["cumulative_share"].isna().all()


def test_only_the_last_12_months_count_net_of_refunds() -> None:
    days = purchase_days(
        (1, "2023-06-30", 1000.0),  # exactly a year ago: outside the window
        (1, "2024-06-01", 10.0),
        (2, "2023-07-01", 60.0),  # first day of the window
        (3, "2024-06-01", 300.0),
        (3, "2024-06-02", -290.0),
        (4, "2024-07-01", 5000.0),  # after today
        (4, "2024-06-15", 20.0),
        (5, "2024-02-01", -50.0),  # a refund of an older purchase
    )

    result = pareto_vips(days, TODAY)

    np.testing.assert_allclose(result["revenue_12m"].loc[[1, 2, 3, 4, 5]], [10.0, 60.0, 10.0, 20.0, -50.0])
    # 60 + 20 of 100: customer 5's net refund does not shrink the total.
    assert result.index[result["vip"]].tolist() == [2, 4]
