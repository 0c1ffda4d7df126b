import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.rfm import (
    RFM_COLUMNS,
    SEGMENTS,
    SegmentRule,
    quintile_scores,
    rfm_scores,
    segment_grid,
)
from tests.crm_core.analytics.analytics_frames import purchase_days

TODAY = dt.date(2024, 6, 30)


def test_no_purchases_give_an_empty_frame_with_every_column() -> None:
    scores = rfm_scores(purchase_days(), TODAY)

    assert scores.empty
    assert tuple(scores.columns) == RFM_COLUMNS
    assert scores.index.name == "customer_id"


def test_a_lone_customer_sits_in_the_middle() -> None:
    scores = rfm_scores(purchase_days((1, "2024-06-01", 50.0)), TODAY)

    assert scores.loc[1, ["r_score", "f_score", "m_score"]].tolist() == [3, 3, 3]
    assert (scores.loc[1, "rfm_score"], scores.loc[1, "segment"]) == ("333", "Need Attention")


def test_five_distinct_customers_get_one_score_each_best_last() -> None:
    days = purchase_days(
        *((customer, f"2024-06-{customer:02d}", 10.0 * customer) for customer in range(1, 6))
    )

    scores = rfm_scores(days, TODAY)

    # Customer 5 bought most recently and spent the most.
    assert scores["r_score"].tolist() == [1, 2, 3, 4, 5]
    assert scores["m_score"].tolist() == [1, 2, 3, 4, 5]
    assert scores["recency_days"].tolist() == [29, 28, 27, 26, 25]


def test_two_customers_are_placed_apart_but_not_at_the_extremes() -> None:
    scores = rfm_scores(purchase_days((1, "2024-06-01", 10.0), (2, "2024-06-20", 90.0)), TODAY)

    assert scores["r_score"].tolist() == [2, 4]
    assert scores["m_score"].tolist() == [2, 4]


def test_tied_customers_share_a_score_whatever_their_order() -> None:
    rows = [(customer, "2024-06-10", 20.0) for customer in (9, 3, 7)] + [(1, "2024-06-29", 500.0)]

    scores = rfm_scores(purchase_days(*rows), TODAY)

    assert scores.loc[[3, 7, 9], "rfm_score"].nunique() == 1
    assert scores.loc[1, "r_score"] > scores.loc[3, "r_score"]


def test_quintile_scores_are_equal_count_fifths_without_ties() -> None:
    scores = quintile_scores(pd.Series(range(100, 0, -1)))

    assert scores.value_counts().to_dict() == {1: 20, 2: 20, 3: 20, 4: 20, 5: 20}
    assert scores.iloc[0] == 5


def test_refunds_reduce_monetary_and_future_purchases_are_ignored() -> None:
    days = purchase_days(
        (1, "2024-05-01", 100.0),
        (1, "2024-05-20", -40.0),
        (1, "2024-07-05", 999.0),  # after today
        (2, "2024-05-01 09:00", 30.0),
        (2, "2024-05-01 15:00", 30.0),  # the same day: one purchase
    )

    scores = rfm_scores(days, TODAY)

    assert scores.loc[1, ["recency_days", "frequency", "monetary"]].tolist() == [60, 1, 60.0]
    assert scores.loc[2, ["frequency", "monetary"]].tolist() == [1, 60.0]


def test_segment_rules_cover_every_cell_and_reach_every_segment() -> None:
    grid = segment_grid()

    assert {segment for row in grid for segment in row} == set(SEGMENTS)
    assert grid[4][4] == "Champions"  # R=5, FM=5
    assert grid[0][4] == "Can't Lose Them"  # carved out of At Risk by coming first
    assert grid[1][4] == "At Risk"
    assert grid[0][0] == "Lost"
    assert grid[4][0] == "New"


def test_a_rule_table_with_a_hole_is_refused() -> None:
    with pytest.raises(ValueError, match="R=1, FM=1"):
        segment_grid((SegmentRule("Everyone else", r=(2, 5), fm=(1, 5)),))


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).integers(-3000, 0, size=5000),  # recency, negated: counted
        np.random.default_rng(2).integers(1, 40, size=5000),  # purchase days: counted
        np.random.default_rng(3).integers(0, 10**9, size=50),  # too wide to count: sorted
    ],
)
def test_integer_scores_counted_or_sorted_are_those_of_the_same_values_as_floats(values: np.ndarray) -> None:
    """Floats are always ranked by pandas' sort: the reference for the counting of integers."""
    as_integers = quintile_scores(pd.Series(values))

    assert as_integers.tolist() == quintile_scores(pd.Series(values.astype("float64"))).tolist()
    assert sorted(set(as_integers)) == [1, 2, 3, 4, 5]
