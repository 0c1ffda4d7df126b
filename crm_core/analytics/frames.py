"""The column contracts between the store loader and the analytics.

The loader is written separately, so these checks run at the door of every public analytics function:
a frame that breaks the contract fails loudly here, with the column named, instead of producing
plausible but wrong scores further down.

purchases
    ``customer_id`` (integer), ``occurred_at`` (datetime64, naive UTC), ``amount`` (float; negative for
    refunds). Decimal amounts from the store are accepted and converted to float.
interactions
    ``customer_id`` (integer), ``occurred_at`` (datetime64, naive UTC).
customers
    ``customer_id`` (integer, unique), plus anything else (``external_id``, ``name``, ``owner_id``).
follow_ups
    ``owner_id``, ``due_on`` (date or datetime64), ``status`` (``open``, ``snoozed``, ``done`` or
    ``cancelled``), ``done_at`` (datetime64 or missing while not done).

Every analytics result is indexed by ``customer_id`` so callers can join it back to ``customers``.
"""

from __future__ import annotations

import pandas as pd

CUSTOMER_ID = "customer_id"
OCCURRED_AT = "occurred_at"
AMOUNT = "amount"

PURCHASE_COLUMNS = (CUSTOMER_ID, OCCURRED_AT, AMOUNT)
INTERACTION_COLUMNS = (CUSTOMER_ID, OCCURRED_AT)
FOLLOW_UP_COLUMNS = ("owner_id", "due_on", "status", "done_at")


class FrameContractError(ValueError):
    """A frame handed to the analytics breaks its column contract (a loader bug, not a user error)."""


def validate_purchases(purchases: pd.DataFrame) -> pd.DataFrame:
    """Only the contract columns, in canonical dtypes, so later code can rely on them."""
    _require_columns("purchases", purchases, PURCHASE_COLUMNS)
    amount = purchases[AMOUNT]
    if not pd.api.types.is_numeric_dtype(amount):
        try:
            amount = amount.astype("float64")
        except (TypeError, ValueError) as exc:
            raise FrameContractError(f"purchases.amount must be numeric, got {amount.dtype}") from exc
    if amount.isna().any():
        raise FrameContractError("purchases.amount has missing values")
    return pd.DataFrame(
        {
            CUSTOMER_ID: _customer_ids("purchases", purchases),
            OCCURRED_AT: _timestamps("purchases", purchases),
            AMOUNT: amount.to_numpy(dtype="float64"),
        }
    )


def validate_interactions(interactions: pd.DataFrame) -> pd.DataFrame:
    """Only the contract columns, in canonical dtypes."""
    _require_columns("interactions", interactions, INTERACTION_COLUMNS)
    return pd.DataFrame(
        {
            CUSTOMER_ID: _customer_ids("interactions", interactions),
            OCCURRED_AT: _timestamps("interactions", interactions),
        }
    )


def validate_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """The customers frame indexed by ``customer_id``, other columns kept for grouping (owner)."""
    _require_columns("customers", customers, (CUSTOMER_ID,))
    ids = _customer_ids("customers", customers)
    if ids.duplicated().any():
        raise FrameContractError("customers.customer_id has duplicates")
    return customers.drop(columns=CUSTOMER_ID).set_index(pd.Index(ids, name=CUSTOMER_ID))


def validate_follow_ups(follow_ups: pd.DataFrame) -> pd.DataFrame:
    """Due and done times as naive datetimes, whatever date type the loader used."""
    _require_columns("follow_ups", follow_ups, FOLLOW_UP_COLUMNS)
    try:
        due_on = pd.to_datetime(follow_ups["due_on"])
        done_at = pd.to_datetime(follow_ups["done_at"])
    except (TypeError, ValueError) as exc:
        raise FrameContractError(f"follow_ups dates cannot be read: {exc}") from exc
    if due_on.isna().any():
        raise FrameContractError("follow_ups.due_on has missing values")
    return pd.DataFrame(
        {
            "owner_id": follow_ups["owner_id"].to_numpy(),
            "due_on": due_on.to_numpy(),
            "status": follow_ups["status"].astype(str).to_numpy(),
            "done_at": done_at.to_numpy(),
        }
    )


def _require_columns(name: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise FrameContractError(f"{name} lacks column(s) {', '.join(missing)}; has {list(frame.columns)}")


def _customer_ids(name: str, frame: pd.DataFrame) -> pd.Series:
    ids = frame[CUSTOMER_ID]
    if ids.isna().any():
        raise FrameContractError(f"{name}.customer_id has missing values")
    if not pd.api.types.is_integer_dtype(ids):
        raise FrameContractError(f"{name}.customer_id must be integer, got {ids.dtype}")
    return pd.Series(ids.to_numpy(dtype="int64"), name=CUSTOMER_ID)


def _timestamps(name: str, frame: pd.DataFrame) -> pd.Series:
    occurred_at = frame[OCCURRED_AT]
    if isinstance(occurred_at.dtype, pd.DatetimeTZDtype):
        raise FrameContractError(f"{name}.occurred_at must be naive UTC, got {occurred_at.dtype}")
    if not pd.api.types.is_datetime64_dtype(occurred_at):
        raise FrameContractError(f"{name}.occurred_at must be datetime64, got {occurred_at.dtype}")
    if occurred_at.isna().any():
        raise FrameContractError(f"{name}.occurred_at has missing values")
    return pd.Series(occurred_at.to_numpy(), name=OCCURRED_AT)
