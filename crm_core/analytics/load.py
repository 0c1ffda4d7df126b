"""Loading the analytics frames from the store, kept apart from the pure analytics functions.

Plain SQL without ORM type processing: at a million rows, building a ``datetime`` and a ``Decimal``
per value costs more than the analytics themselves, while pandas parses whole columns at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class StoreFrames:
    """Everything the analytics read, as the column contracts of ``crm_core.analytics.frames`` say."""

    customers: pd.DataFrame
    purchases: pd.DataFrame
    interactions: pd.DataFrame
    follow_ups: pd.DataFrame


def _frame(
    session: Session,
    sql: str,
    columns: list[str],
    dates: tuple[str, ...] = (),
    numbers: dict[str, str] | None = None,
) -> pd.DataFrame:
    # The driver's own cursor, in this transaction: it returns plain tuples. SQLAlchemy's Row is no
    # tuple, and pandas probes each non-tuple row for a ``dtype`` attribute, which a Row answers by
    # raising NoSuchColumnError: that alone took nine tenths of the load time.
    cursor = session.connection().connection.cursor()
    chunks = []
    try:
        cursor.execute(sql)
        # In chunks, each typed at once: ten million rows as Python tuples and strings would take
        # more memory than everything else the digests need together.
        while rows := cursor.fetchmany(CHUNK_ROWS):
            chunks.append(_typed(pd.DataFrame.from_records(rows, columns=columns), dates, numbers))
    finally:
        cursor.close()
    if not chunks:
        return _typed(pd.DataFrame.from_records([], columns=columns), dates, numbers)
    return pd.concat(chunks, ignore_index=True)


def _typed(frame: pd.DataFrame, dates: tuple[str, ...], numbers: dict[str, str] | None) -> pd.DataFrame:
    # Explicit dtypes: an empty result would otherwise come back as object columns.
    frame = frame.astype({"customer_id": "int64", **(numbers or {})})
    for column in dates:
        # SQLite hands back ISO strings, PostgreSQL datetime objects: each parsed the fast way.
        sample = frame[column].dropna().head(1).tolist()
        iso_strings = bool(sample) and isinstance(sample[0], str)
        frame[column] = pd.to_datetime(frame[column], format="ISO8601" if iso_strings else None)
    return frame


def load_frames(session: Session) -> StoreFrames:
    """Read customers, purchases, interactions and follow-ups in the caller's transaction."""
    session.execute(text("SELECT 1"))  # begins the transaction, so all four reads see one snapshot
    return StoreFrames(
        customers=_frame(
            session,
            "SELECT id, external_id, name, owner_id FROM customers",
            ["customer_id", "external_id", "name", "owner_id"],
        ),
        purchases=_frame(
            session,
            "SELECT customer_id, occurred_at, CAST(amount AS FLOAT) FROM purchases",
            ["customer_id", "occurred_at", "amount"],
            dates=("occurred_at",),
            numbers={"amount": "float64"},
        ),
        interactions=_frame(
            session,
            "SELECT customer_id, occurred_at FROM interactions",
            ["customer_id", "occurred_at"],
            dates=("occurred_at",),
        ),
        follow_ups=_frame(
            session,
            "SELECT id, customer_id, owner_id, due_on, status, note, done_at FROM follow_ups",
            ["follow_up_id", "customer_id", "owner_id", "due_on", "status", "note", "done_at"],
            dates=("due_on", "done_at"),
            numbers={"follow_up_id": "int64"},
        ),
    )
