"""Loading the analytics frames from the store, kept apart from the pure analytics functions.

Plain SQL without ORM type processing: at a million rows, building a ``datetime`` and a ``Decimal``
per value costs more than the analytics themselves. Purchases and interactions come as day numbers
computed by the database (the ``day`` of ``frames``): the analytics look at nothing finer, and ten
million timestamps parsed in Python took longer than everything the digests do with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm_core.analytics.frames import AMOUNT, CUSTOMER_ID, DAY, FrameContractError
from crm_core.analytics.history import ContactDays

CHUNK_ROWS = 200_000
# Customers per chunk when each row carries all of a customer's days.
CHUNK_CUSTOMERS = 20_000

# The calendar date of a stored naive-UTC timestamp as days since 1970-01-01, the day pandas would
# give (``datetime64[D]``). On SQLite from the date part of the ISO text: julianday() of the whole
# timestamp rounds to the millisecond, which moves 23:59:59.9995 to the next day.
_DAY_SQL = {
    "sqlite": "CAST(julianday(substr({column}, 1, 10)) - 2440587.5 AS INTEGER)",
    "postgresql": "({column}::date - DATE '1970-01-01')",
}
# Values of a group joined into one text, separated by commas.
_JOINED_SQL = {"sqlite": "group_concat({values})", "postgresql": "string_agg(({values})::text, ',')"}


@dataclass(frozen=True)
class StoreFrames:
    """Everything the analytics read, as the column contracts of ``crm_core.analytics.frames`` say.

    Purchases are ``customer_id``, ``day``, ``amount``. Interactions are ``customer_id``, ``day``
    with one row per customer and day with any (as ``ContactDays`` keeps them): the same frame
    then serves as the contact history, instead of a second copy of ten million rows.
    """

    customers: pd.DataFrame
    purchases: pd.DataFrame
    interactions: pd.DataFrame
    follow_ups: pd.DataFrame


def _chunks(session: Session, sql: str, size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    # The driver's own cursor, in this transaction: it returns plain tuples. SQLAlchemy's Row is no
    # tuple, and pandas probes each non-tuple row for a ``dtype`` attribute, which a Row answers by
    # raising NoSuchColumnError: that alone took nine tenths of the load time.
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        # In chunks, each typed at once: ten million rows as Python tuples would take more memory
        # than everything else the digests need together.
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def _frame(
    session: Session,
    sql: str,
    columns: list[str],
    dates: tuple[str, ...] = (),
    numbers: dict[str, str] | None = None,
) -> pd.DataFrame:
    chunks = [
        _typed(pd.DataFrame.from_records(rows, columns=columns), dates, numbers)
        for rows in _chunks(session, sql)
    ]
    if not chunks:
        return _typed(pd.DataFrame.from_records([], columns=columns), dates, numbers)
    return pd.concat(chunks, ignore_index=True)


def _typed(frame: pd.DataFrame, dates: tuple[str, ...], numbers: dict[str, str] | None) -> pd.DataFrame:
    # Explicit dtypes: an empty result would otherwise come back as object columns.
    frame = frame.astype({"customer_id": "int64", **(numbers or {})})
    for column in dates:
        # SQLite hands back ISO strings, PostgreSQL date(time) objects: each parsed the fast way.
        sample = frame[column].dropna().head(1).tolist()
        iso_strings = bool(sample) and isinstance(sample[0], str)
        frame[column] = pd.to_datetime(frame[column], format="ISO8601" if iso_strings else None)
    return frame


def _numeric_frame(session: Session, sql: str, dtypes: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Rows of numbers straight into typed arrays, with no per-column object stage in between."""
    dtype = np.dtype(list(dtypes))
    chunks = [np.fromiter(rows, dtype=dtype, count=len(rows)) for rows in _chunks(session, sql)]
    return pd.DataFrame(np.concatenate(chunks) if chunks else np.empty(0, dtype=dtype))


def _days_by_customer(session: Session, table: str, dialect: str) -> pd.DataFrame:
    """``customer_id`` and ``day`` of every row of ``table``, in customer order.

    One row per customer with its days joined into a text that numpy parses in C: ten million
    rows would otherwise each become a Python tuple, the costliest part of loading them.
    """
    day = _DAY_SQL[dialect].format(column="occurred_at")
    sql = (
        f"SELECT customer_id, COUNT(*), {_JOINED_SQL[dialect].format(values=day)} FROM {table} "
        "GROUP BY customer_id ORDER BY customer_id"
    )
    ids: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    days: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    for rows in _chunks(session, sql, CHUNK_CUSTOMERS):
        customers, counts, joined = zip(*rows, strict=True)
        ids.append(np.repeat(np.array(customers, dtype=np.int64), np.array(counts, dtype=np.int64)))
        days.append(np.fromstring(",".join(joined), dtype=np.int64, sep=","))
        if len(days[-1]) != len(ids[-1]):
            raise FrameContractError(f"{table}: {len(ids[-1])} rows but {len(days[-1])} days were read")
    empty = np.empty(0, dtype=np.int64)
    return pd.DataFrame(
        {CUSTOMER_ID: np.concatenate(ids) if ids else empty, DAY: np.concatenate(days) if days else empty}
    )


def load_frames(session: Session) -> StoreFrames:
    """Read customers, purchases, interactions and follow-ups in the caller's transaction."""
    session.execute(text("SELECT 1"))  # begins the transaction, so all four reads see one snapshot
    dialect = session.get_bind().dialect.name
    if dialect not in _DAY_SQL:
        raise NotImplementedError(f"analytics cannot read a {dialect} store")
    day = _DAY_SQL[dialect].format(column="occurred_at")
    return StoreFrames(
        customers=_frame(
            session,
            "SELECT id, external_id, name, owner_id FROM customers",
            ["customer_id", "external_id", "name", "owner_id"],
        ),
        purchases=_numeric_frame(
            session,
            f"SELECT customer_id, {day}, CAST(amount AS FLOAT) FROM purchases",
            [(CUSTOMER_ID, "int64"), (DAY, "int64"), (AMOUNT, "float64")],
        ),
        interactions=ContactDays.from_interactions(_days_by_customer(session, "interactions", dialect)).frame,
        follow_ups=_frame(
            session,
            "SELECT id, customer_id, owner_id, due_on, status, note, done_at FROM follow_ups",
            ["follow_up_id", "customer_id", "owner_id", "due_on", "status", "note", "done_at"],
            dates=("due_on", "done_at"),
            numbers={"follow_up_id": "int64"},
        ),
    )
