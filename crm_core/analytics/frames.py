"""The column contracts between the store loader and the analytics.

The loader is written separately, so these checks run at the door of every public analytics function:
a frame that breaks the contract fails loudly here, with the column named, instead of producing
plausible but wrong scores further down.

purchases
    ``customer_id`` (integer), when (see below), ``amount`` (float; negative for refunds). Decimal
    amounts from the store are accepted and converted to float.
interactions
    ``customer_id`` (integer), when (see below).

The activity rows' ``customer_id`` and ``day`` come out of validation as int32 where every value
fits (days always do; ids up to 2,147,483,647), else int64: at a million customers there are tens
of millions of those rows, held through the whole morning job, and 4 bytes a value instead of 8
is a tenth of its memory. Per-customer results are indexed by int64 ids whatever the rows hold.

When something happened is either ``day``, an integer: days from 1970-01-01 to its calendar date in
UTC, or ``occurred_at``, a datetime64 in naive UTC, which is reduced to that day. The analytics only
ever look at days, and the store's loader computes them in SQL: parsing tens of millions of
timestamps would cost more than the analytics themselves. Either way the day is the UTC date, not
the team's local one, while ``today`` is a local date: that has always been so, and a loader that
changed it would move activity around midnight from one day to the next.
customers
    ``customer_id`` (integer, unique), plus anything else (``external_id``, ``name``, ``owner_id``).
follow_ups
    ``owner_id``, ``due_on`` (date or datetime64), ``status`` (``open``, ``snoozed``, ``done`` or
    ``cancelled``), ``done_at`` (datetime64 or missing while not done).

Every analytics result is indexed by ``customer_id`` so callers can join it back to ``customers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

# Ids and days of activity rows: int32 where the values fit, else int64 (see above).
IntArray = NDArray[np.signedinteger[Any]]
_INT32 = np.iinfo(np.int32)

CUSTOMER_ID = "customer_id"
OCCURRED_AT = "occurred_at"
DAY = "day"
AMOUNT = "amount"

PURCHASE_COLUMNS = (CUSTOMER_ID, AMOUNT)
INTERACTION_COLUMNS = (CUSTOMER_ID,)
FOLLOW_UP_COLUMNS = ("owner_id", "due_on", "status", "done_at")


class FrameContractError(ValueError):
    """A frame handed to the analytics breaks its column contract (a loader bug, not a user error)."""


def validate_purchases(purchases: pd.DataFrame) -> pd.DataFrame:
    """``customer_id``, ``day`` and ``amount`` in canonical dtypes, so later code can rely on them."""
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
            CUSTOMER_ID: compact(_customer_ids("purchases", purchases)),
            DAY: compact(_days("purchases", purchases)),
            AMOUNT: amount.to_numpy(dtype="float64"),
        },
        copy=False,
    )


def validate_interactions(interactions: pd.DataFrame) -> pd.DataFrame:
    """``customer_id`` and ``day`` in canonical dtypes."""
    _require_columns("interactions", interactions, INTERACTION_COLUMNS)
    return pd.DataFrame(
        {
            CUSTOMER_ID: compact(_customer_ids("interactions", interactions)),
            DAY: compact(_days("interactions", interactions)),
        },
        copy=False,
    )


def validate_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """The customers frame indexed by ``customer_id``, other columns kept for grouping (owner)."""
    _require_columns("customers", customers, (CUSTOMER_ID,))
    ids = pd.Index(_customer_ids("customers", customers).astype(np.int64, copy=False), name=CUSTOMER_ID)
    if ids.has_duplicates:
        raise FrameContractError("customers.customer_id has duplicates")
    return customers.drop(columns=CUSTOMER_ID).set_index(ids)


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


def compact(values: IntArray) -> IntArray:
    """``values`` as int32 when every one fits (as they are when already int32), else as int64."""
    if values.dtype == np.int32:
        return values
    if not len(values) or (_INT32.min <= int(values.min()) and int(values.max()) <= _INT32.max):
        return values.astype(np.int32)
    return values.astype(np.int64, copy=False)


def _customer_ids(name: str, frame: pd.DataFrame) -> IntArray:
    return _integers(name, frame, CUSTOMER_ID)


def _integers(name: str, frame: pd.DataFrame, column: str) -> IntArray:
    values = frame[column]
    if values.isna().any():
        raise FrameContractError(f"{name}.{column} has missing values")
    if not pd.api.types.is_integer_dtype(values):
        raise FrameContractError(f"{name}.{column} must be integer, got {values.dtype}")
    if values.dtype in (np.int32, np.int64):  # as they are: int32 rows are not copied to int64
        return values.to_numpy()
    return values.to_numpy(dtype="int64")


def _days(name: str, frame: pd.DataFrame) -> IntArray:
    """The ``day`` column as it is, or the UTC calendar day of each ``occurred_at``."""
    if DAY in frame.columns:
        return _integers(name, frame, DAY)
    if OCCURRED_AT not in frame.columns:
        raise FrameContractError(f"{name} lacks column day or occurred_at; has {list(frame.columns)}")
    occurred_at = frame[OCCURRED_AT]
    if isinstance(occurred_at.dtype, pd.DatetimeTZDtype):
        raise FrameContractError(f"{name}.occurred_at must be naive UTC, got {occurred_at.dtype}")
    if not pd.api.types.is_datetime64_dtype(occurred_at):
        raise FrameContractError(f"{name}.occurred_at must be datetime64, got {occurred_at.dtype}")
    if occurred_at.isna().any():
        raise FrameContractError(f"{name}.occurred_at has missing values")
    # Flooring to whole days, as the date of a naive UTC datetime is.
    return occurred_at.to_numpy().astype("datetime64[D]").astype(np.int64)
