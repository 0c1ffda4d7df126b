import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from crm_core.analytics.frames import FrameContractError, validate_customers, validate_purchases
from crm_core.analytics.scores import score_customers
from tests.crm_core.analytics.analytics_frames import interactions, purchases


def test_a_missing_column_is_named() -> None:
    with pytest.raises(FrameContractError, match=r"lacks column\(s\) amount"):
        validate_purchases(purchases((1, "2024-06-01", 10.0)).drop(columns="amount"))


def test_decimal_amounts_from_the_store_become_floats() -> None:
    frame = purchases((1, "2024-06-01", 0.0)).assign(amount=[Decimal("12.50")])

    assert validate_purchases(frame)["amount"].tolist() == [12.5]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("amount", [float("nan")], "amount has missing values"),
        ("amount", ["ten"], "amount must be numeric"),
        ("customer_id", [1.5], "customer_id must be integer"),
        ("occurred_at", pd.to_datetime(["2024-06-01"]).tz_localize("Asia/Tokyo"), "must be naive UTC"),
        ("occurred_at", ["2024-06-01"], "occurred_at must be datetime64"),
    ],
)
def test_values_that_break_the_contract_are_refused(column: str, values: object, message: str) -> None:
    frame = purchases((1, "2024-06-01", 10.0)).assign(**{column: values})

    with pytest.raises(FrameContractError, match=message):
        validate_purchases(frame)


def test_customers_are_indexed_by_id_and_must_be_unique() -> None:
    indexed = validate_customers(pd.DataFrame({"customer_id": [3, 1], "owner_id": ["U1", "U2"]}))

    assert indexed.index.name == "customer_id"
    assert indexed.loc[3, "owner_id"] == "U1"
    with pytest.raises(FrameContractError, match="duplicates"):
        validate_customers(pd.DataFrame({"customer_id": [1, 1]}))


def test_activity_rows_are_int32_where_they_fit_and_int64_where_they_do_not() -> None:
    small = validate_purchases(purchases((1, "2024-06-01", 10.0), (2, "1969-12-31", 5.0)))
    assert (small["customer_id"].dtype, small["day"].dtype) == ("int32", "int32")
    assert small["day"].tolist() == [19875, -1]

    beyond = 2**31 + 5  # an id int32 cannot hold keeps its value
    wide = validate_purchases(purchases((1, "2024-06-01", 10.0), (beyond, "2024-06-02", 5.0)))
    assert wide["customer_id"].dtype == "int64"
    assert wide["customer_id"].tolist() == [1, beyond]


def test_scores_do_not_depend_on_whether_ids_fit_in_int32() -> None:
    rows = [(1, "2024-01-05", 10.0), (1, "2024-02-09", 12.0), (1, "2024-04-01", 8.0), (2, "2024-03-03", 20.0)]
    rows += [(3 + n % 40, f"2024-0{1 + n % 6}-{10 + n % 17}", 5.0 + n) for n in range(200)]
    offset = 2**31  # the same customers with ids beyond int32
    today = dt.date(2024, 9, 1)
    ids = pd.DataFrame({"customer_id": sorted({r[0] for r in rows})})
    narrow, _ = score_customers(ids, purchases(*rows), interactions((1, "2024-08-01")), today)
    shifted_rows = [(customer + offset, when, amount) for customer, when, amount in rows]
    wide, _ = score_customers(
        ids + offset, purchases(*shifted_rows), interactions((1 + offset, "2024-08-01")), today
    )

    assert wide.index.dtype == narrow.index.dtype == "int64"
    pd.testing.assert_frame_equal(wide.set_axis(narrow.index), narrow, check_exact=True)
