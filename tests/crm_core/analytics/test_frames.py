from decimal import Decimal

import pandas as pd
import pytest

from crm_core.analytics.frames import FrameContractError, validate_customers, validate_purchases
from tests.crm_core.analytics.analytics_frames import purchases


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
