"""Loading the analytics frames from the store, kept apart from the pure analytics functions.

Purchases and interactions are millions of rows, and a Python object per value (a tuple per row, a
``datetime``, a ``Decimal``) cost more than the analytics themselves. So they are read in blocks
(ranges of ids), each block as one row: on SQLite comma-joined texts that numpy and pandas parse
in C, on PostgreSQL binary arrays numpy reads in place. Python handles a few dozen rows however
large the store. What the analytics look at is the day (the ``day`` of
``frames``), computed by the database where that is cheap (PostgreSQL) and by numpy from the
stored ISO text on SQLite, where a date function per row took longer than everything else in
loading. Interactions are reduced to distinct contact days by numpy, block by block, on both: on
PostgreSQL a ``GROUP BY`` of each block doubled the server's time.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from crm_core.analytics.frames import AMOUNT, CUSTOMER_ID, DAY, FrameContractError, IntArray, compact
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.scores import ScoringFits, contact_history, purchase_models
from crm_core.analytics.snapshot_reads import Side, read_in_one_snapshot
from crm_core.models import Customer, FollowUp

Purchases = TypeVar("Purchases")
Contacts = TypeVar("Contacts")

CHUNK_ROWS = 200_000
# Per block of the activity reads, whose rows arrive as one row of joined texts: contacts by range
# of customer ids (read from the (customer, time) index alone), purchases by range of their own ids
# (in table order: through that index SQLite looked up each amount's row, eight times slower).
BLOCK_CUSTOMERS = 20_000
BLOCK_PURCHASES = 100_000
# Customers whose names one query reads (a bound parameter each).
NAMES_PER_QUERY = 500
# The customers' columns when their names are read too.
_NAMED = ("customer_id", "external_id", "name", "owner_id")
# PostgreSQL's type ids (pg_type.oid; fixed since forever) of int4 and float8, and of their arrays.
_INT4_OID, _INT4_ARRAY_OID = 23, 1007
_FLOAT8_OID, _FLOAT8_ARRAY_OID = 701, 1022

# Per dialect: each block's customer ids, days (or stored times, on SQLite) and amounts. SQLite joins
# them by commas. PostgreSQL hands ids and days over as int4 arrays in its binary format, which numpy
# reads in place (``_binary_array``): printing ten million integers as text on the server and
# parsing them back took about a third of loading. Its amounts come as a float8 array: PostgreSQL
# turns a numeric into a double by printing it and parsing that text (``numeric_float8`` calls
# ``numeric_out``, then ``float8in``), the same correctly rounded double numpy parsed from the
# printed text before, without the Python side's parsing (0.6 s of the purchases' 2.8 s at 1M).
# The order within a block does not matter: ``PurchaseDays`` and ``ContactDays`` sort what is not
# in customer-then-day order, and the values of one row come from the same rows in the same order.
# PostgreSQL's day is the date of the naive UTC timestamp.
_BLOCK_SQL = {
    "sqlite": {
        "purchases": "SELECT group_concat(customer_id), group_concat(occurred_at), group_concat(amount) "
        "FROM purchases WHERE id >= :low AND id < :high",
        "interactions": "SELECT group_concat(customer_id), group_concat(occurred_at) "
        "FROM interactions WHERE customer_id >= :low AND customer_id < :high",
    },
    "postgresql": {
        "purchases": "SELECT array_agg(customer_id), array_agg(occurred_at::date - DATE '1970-01-01'), "
        "array_agg(amount::float8) FROM purchases WHERE id >= :low AND id < :high",
        "interactions": "SELECT array_agg(customer_id), array_agg(occurred_at::date - DATE '1970-01-01') "
        "FROM interactions WHERE customer_id >= :low AND customer_id < :high",
    },
}


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


def _chunks(connection: Connection, sql: str, size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    # The driver's own cursor, in this transaction: it returns plain tuples. SQLAlchemy's Row is no
    # tuple, and pandas probes each non-tuple row for a ``dtype`` attribute, which a Row answers by
    # raising NoSuchColumnError: that alone took nine tenths of the load time.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def _frame(
    connection: Connection,
    sql: str,
    columns: list[str],
    dates: tuple[str, ...] = (),
    dtypes: dict[str, str] | None = None,
) -> pd.DataFrame:
    chunks = [
        _typed(pd.DataFrame.from_records(rows, columns=columns), dates, dtypes)
        for rows in _chunks(connection, sql)
    ]
    if not chunks:
        return _typed(pd.DataFrame.from_records([], columns=columns), dates, dtypes)
    return pd.concat(chunks, ignore_index=True)


def _typed(frame: pd.DataFrame, dates: tuple[str, ...], dtypes: dict[str, str] | None) -> pd.DataFrame:
    # Explicit dtypes: an empty result would otherwise come back as object columns.
    frame = frame.astype({"customer_id": "int64", **(dtypes or {})})
    for column in dates:
        # SQLite hands back ISO strings, PostgreSQL date(time) objects: each parsed the fast way.
        sample = frame[column].dropna().head(1).tolist()
        iso_strings = bool(sample) and isinstance(sample[0], str)
        frame[column] = pd.to_datetime(frame[column], format="ISO8601" if iso_strings else None)
    return frame


def _joined_blocks(connection: Connection, dialect: str, table: str) -> Iterator[tuple[str | bytes, ...]]:
    """Each block of ``table``'s rows as joined texts or binary int4 and float8 arrays (see
    ``_BLOCK_SQL``); none if empty.

    Blocks are ranges of ids (see ``BLOCK_CUSTOMERS``), read in the caller's transaction, so all
    blocks see one snapshot.
    """
    ranged, size = ("purchases", BLOCK_PURCHASES) if table == "purchases" else ("customers", BLOCK_CUSTOMERS)
    low, high = connection.execute(text(f"SELECT MIN(id), MAX(id) FROM {ranged}")).one()
    if low is None:
        return
    sql = _BLOCK_SQL[dialect][table]
    if dialect == "postgresql":
        cursor = binary_cursor(connection)
        sql = sql.replace(":low", "%(low)s").replace(":high", "%(high)s")
    else:
        cursor = connection.connection.cursor()
    try:
        for start in range(int(low), int(high) + 1, size):
            cursor.execute(sql, {"low": start, "high": start + size})
            row = cursor.fetchone()
            if row is not None and row[0] is not None:
                yield tuple(row)
    finally:
        cursor.close()


def _integers(joined: str) -> NDArray[np.int64]:
    return np.fromstring(joined, dtype=np.int64, sep=",")


class _Bytes(Loader):
    """A binary value as its bytes (see ``_joined_blocks``)."""

    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def binary_cursor(connection: Connection) -> Any:
    """A psycopg cursor on ``connection`` with results in binary form, int4 and float8 arrays as
    their bytes (for ``_binary_array``; on this cursor only)."""
    cursor = connection.connection.dbapi_connection.cursor(binary=True)  # type: ignore[union-attr]
    for array_oid in (_INT4_ARRAY_OID, _FLOAT8_ARRAY_OID):
        cursor.adapters.register_loader(array_oid, _Bytes)
    return cursor


# Per element type: its name, the big-endian (length, value) cell numpy reads, and the dtype handed on.
_CELLS = {
    _INT4_OID: ("int4", np.dtype([("length", ">i4"), ("value", ">i4")]), np.int32),
    _FLOAT8_OID: ("float8", np.dtype([("length", ">i4"), ("value", ">f8")]), np.float64),
}


def _binary_array(data: bytes, element_oid: int) -> NDArray[Any]:
    """The values of a one-dimensional int4 or float8 array without NULLs, from PostgreSQL's binary
    form: a header of five big-endian int4 (dimensions, has-NULLs, element type, length, lower
    bound), then each element as its length and its value, read by numpy in place."""
    name, cell, dtype = _CELLS[element_oid]
    if len(data) < 20:  # an empty array has no length and lower bound: array_agg never sends one
        raise FrameContractError(f"PostgreSQL sent an empty or truncated {name} array")
    dimensions, has_nulls, element_type, length = (int(v) for v in np.frombuffer(data, dtype=">i4", count=4))
    if (dimensions, has_nulls, element_type) != (1, 0, element_oid):
        raise FrameContractError(f"PostgreSQL sent an array that is not one-dimensional {name} without NULLs")
    if (len(data) - 20) % cell.itemsize:
        raise FrameContractError(f"PostgreSQL sent a {name} array of an unexpected layout")
    cells = np.frombuffer(data, dtype=cell, offset=20)
    if len(cells) != length or (cells["length"] != cell["value"].itemsize).any():
        raise FrameContractError(f"PostgreSQL sent a {name} array of an unexpected layout")
    return cells["value"].astype(dtype)


def _row_integers(joined: str) -> IntArray:
    """Ids or days of activity rows, as compact as ``frames`` keeps them (int32 where they fit)."""
    return compact(_integers(joined))


def _iso_days(joined: str) -> IntArray:
    """Days since 1970-01-01 of comma-joined stored times, from their leading ``YYYY-MM-DD``.

    The proleptic Gregorian day count (Hinnant's ``days_from_civil``) on arrays of digits: the
    same day SQLite's ``julianday`` and pandas give, without a function call per row.
    """
    raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    character = _characters_at(raw, joined.find(",") + 1)

    def number(*offsets: int) -> NDArray[np.int32]:
        value = np.zeros(1, dtype=np.int32)
        for offset in offsets:
            digit = character(offset).astype(np.int32) - ord("0")
            if ((digit < 0) | (digit > 9)).any():
                raise FrameContractError("a stored time does not begin with YYYY-MM-DD")
            value = value * 10 + digit
        return value

    if not ((character(4) == ord("-")).all() and (character(7) == ord("-")).all()):
        raise FrameContractError("a stored time does not begin with YYYY-MM-DD")
    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    if ((month < 1) | (month > 12) | (day < 1) | (day > 31)).any():
        raise FrameContractError("a stored time has no such month or day")
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: IntArray = era * 146_097 + day_of_era - 719_468  # int32, as ``frames`` keeps days
    return days


def _characters_at(raw: NDArray[np.uint8], width: int) -> Callable[[int], NDArray[np.uint8]]:
    """A function giving the character at an offset of every comma-separated value of ``raw``,
    whose first value is ``width`` - 1 long; raises if a value is shorter than YYYY-MM-DD.

    Stored times all have one length (SQLAlchemy writes microseconds always): then the values
    are rows of a table, and a character of each is every ``width``-th byte, read in place.
    Otherwise each value's start is found from the commas.
    """
    count, remainder = divmod(len(raw) + 1, width) if width > 10 else (0, 1)
    if remainder == 0 and (raw[width - 1 :: width] == ord(",")).all():
        return lambda offset: raw[offset::width][:count]
    starts = np.concatenate(([0], np.flatnonzero(raw == ord(",")) + 1))
    if len(raw) < starts[-1] + 10 or (np.diff(starts) < 11).any():
        raise FrameContractError("a stored time is shorter than YYYY-MM-DD")
    return lambda offset: raw[starts + offset]


def _ids(values: str | bytes) -> IntArray:
    """A block's customer ids: PostgreSQL's int4 array, or SQLite's joined text."""
    return _binary_array(values, _INT4_OID) if isinstance(values, bytes) else _row_integers(values)


def _days(values: str | bytes) -> IntArray:
    """A block's days: PostgreSQL's int4 array of days, or SQLite's joined stored times."""
    return _binary_array(values, _INT4_OID) if isinstance(values, bytes) else _iso_days(values)


def _amounts(values: str | bytes) -> NDArray[np.float64]:
    """A block's amounts: PostgreSQL's float8 array, or SQLite's joined text.

    SQLite prints a stored amount with at most 15 significant digits (``%!.15g``), which parse
    back to the same double. pandas' C parser reads them four times as fast as numpy's (0.2 s
    against 0.9 s for 4.6M amounts, the longest part of reading the purchases), and as exactly:
    up to 15 digits the mantissa is an exact integer in a double, and it is divided by an exact
    power of ten, one correctly rounded operation (the classic fast path of decimal parsing; a
    test compares it with Python's ``float`` on values of every magnitude).
    """
    if isinstance(values, bytes):
        return _binary_array(values, _FLOAT8_OID)
    parsed = pd.read_csv(
        io.StringIO(values),
        header=None,
        lineterminator=",",
        dtype=np.float64,
        engine="c",
    )
    amounts: NDArray[np.float64] = parsed.iloc[:, 0].to_numpy()
    return amounts


def _checked(table: str, *columns: np.ndarray[Any, Any]) -> None:
    if len({len(column) for column in columns}) > 1:
        raise FrameContractError(
            f"{table}: a block was read with {[len(c) for c in columns]} values per column"
        )


def _purchases(connection: Connection, dialect: str) -> pd.DataFrame:
    """``customer_id``, ``day`` and ``amount`` of every purchase (refunds negative)."""
    ids: list[IntArray] = []
    days: list[IntArray] = []
    amounts: list[NDArray[np.float64]] = []
    for block_ids, block_days, block_amounts in _joined_blocks(connection, dialect, "purchases"):
        ids.append(_ids(block_ids))
        days.append(_days(block_days))
        amounts.append(_amounts(block_amounts))
        _checked("purchases", ids[-1], days[-1], amounts[-1])
    return pd.DataFrame(
        {
            CUSTOMER_ID: _joined(ids, np.int32),
            DAY: _joined(days, np.int32),
            AMOUNT: _joined(amounts, np.float64),
        },
        copy=False,
    )


def _contact_days(connection: Connection, dialect: str) -> pd.DataFrame:
    """``customer_id`` and ``day``, one row per customer and day with any interaction, sorted."""
    ids: list[IntArray] = []
    days: list[IntArray] = []
    for joined_ids, joined_times in _joined_blocks(connection, dialect, "interactions"):
        block_ids, block_days = _ids(joined_ids), _days(joined_times)
        _checked("interactions", block_ids, block_days)
        # Reduced to distinct days block by block, so every contact of a million customers is
        # never held at once; blocks are in customer order.
        block = ContactDays.from_interactions(pd.DataFrame({CUSTOMER_ID: block_ids, DAY: block_days})).frame
        ids.append(block[CUSTOMER_ID].to_numpy())
        days.append(block[DAY].to_numpy())
    # Blocks are ranges of customers in increasing order, each sorted and distinct already: joined,
    # they are too, and sorting ten million rows again to find that out cost a second at 1M.
    return pd.DataFrame({CUSTOMER_ID: _joined(ids, np.int32), DAY: _joined(days, np.int32)}, copy=False)


def _joined(parts: list[NDArray[Any]], dtype: type[np.generic]) -> NDArray[Any]:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _owned_customers(connection: Connection, dialect: str) -> pd.DataFrame:
    """``customer_id`` and ``owner_id`` of every customer, in order of id.

    Read as one row per block and owner, the block's ids joined: a team has a few owners, so
    Python sees a few rows, not a million, and each owner id is one string however many
    customers share it.
    """
    low, high = connection.execute(text("SELECT MIN(id), MAX(id) FROM customers")).one()
    if low is None:
        return pd.DataFrame({CUSTOMER_ID: np.empty(0, dtype=np.int64), "owner_id": np.empty(0, dtype=object)})
    ids: list[IntArray] = []
    owners: list[NDArray[np.object_]] = []
    joined = "group_concat(id)" if dialect == "sqlite" else "string_agg(id::text, ',')"
    sql = text(f"SELECT owner_id, {joined} FROM customers WHERE id >= :low AND id < :high GROUP BY owner_id")
    for start in range(int(low), int(high) + 1, BLOCK_CUSTOMERS * 5):
        for owner, joined_ids in connection.execute(sql, {"low": start, "high": start + BLOCK_CUSTOMERS * 5}):
            ids.append(_integers(joined_ids))
            # ``fill`` keeps the one string object: ``np.full`` would convert it to a numpy text and
            # back, a new string per customer (60 MB at a million).
            owners.append(np.empty(len(ids[-1]), dtype=object))
            owners[-1].fill(owner)
    all_ids = _joined(ids, np.int64)
    order = np.argsort(all_ids, kind="stable")
    return pd.DataFrame(
        {CUSTOMER_ID: all_ids[order], "owner_id": _joined(owners, np.object_)[order]}, copy=False
    )


def read_names(session: Session, customer_ids: Sequence[int]) -> pd.DataFrame:
    """``external_id`` and ``name`` of the given customers, indexed by ``customer_id``: what a
    digest shows of the few it names, without holding a million customers' texts."""
    rows: list[tuple[int, str, str]] = []
    wanted = sorted({int(i) for i in customer_ids})
    for start in range(0, len(wanted), NAMES_PER_QUERY):
        chosen = Customer.id.in_(wanted[start : start + NAMES_PER_QUERY])
        query = select(Customer.id, Customer.external_id, Customer.name).where(chosen)
        rows.extend((int(id_), external_id, name) for id_, external_id, name in session.execute(query))
    frame = pd.DataFrame.from_records(rows, columns=[CUSTOMER_ID, "external_id", "name"])
    return frame.astype({CUSTOMER_ID: "int64"}).set_index(CUSTOMER_ID)


def load_frames(session: Session, *, names: bool = True, contacts: bool = True) -> StoreFrames:
    """Read customers, purchases, interactions and follow-ups in the caller's transaction (on
    PostgreSQL, when it has written nothing, on two connections sharing its snapshot: see
    ``snapshot_reads``).

    Without ``names`` customers are ``customer_id`` and ``owner_id`` only, in order of id: the
    scores need no more, and a million customers' names and external ids are a quarter of the
    frames' memory and most of the time it takes to read customers (``read_names`` reads them
    for the customers shown); follow-ups then come without their notes (``read_notes``).
    Without ``contacts`` interactions are left unread (empty): the backtest judges buyers only,
    whose levels rest on purchases, and ten million interactions are the longest read.
    """
    loaded = load_prepared(
        session, names=names, contacts=contacts, purchases_then=_as_read, contacts_then=_as_read
    )
    return StoreFrames(
        customers=loaded.customers,
        purchases=loaded.purchases,
        interactions=loaded.contacts,
        follow_ups=loaded.follow_ups,
    )


@dataclass(frozen=True)
class Prepared(Generic[Purchases, Contacts]):
    """``StoreFrames`` with purchases and contact days as their preparations made them."""

    customers: pd.DataFrame
    purchases: Purchases
    contacts: Contacts
    follow_ups: pd.DataFrame


def load_prepared(
    session: Session,
    *,
    purchases_then: Callable[[pd.DataFrame], Purchases],
    contacts_then: Callable[[pd.DataFrame], Contacts],
    names: bool = True,
    contacts: bool = True,
) -> Prepared[Purchases, Contacts]:
    """``load_frames``, with the purchases and the contact days each handed, as soon as they are
    read, to a preparation (day histories, fitted models) that runs beside the other's reading.

    At a million customers the morning job read for 4-7 s and then computed for 8 s on one
    thread: reading keeps one core busy on SQLite (its steps release the interpreter lock) and
    the purchases' models, which need no contact, take about 4 s of the rest.
    """
    session.execute(text("SELECT 1"))  # begins the transaction
    dialect = session.get_bind().dialect.name
    if dialect not in _BLOCK_SQL:
        raise NotImplementedError(f"analytics cannot read a {dialect} store")
    customers = (
        partial(_frame, sql="SELECT id, external_id, name, owner_id FROM customers", columns=list(_NAMED))
        if names
        else partial(_owned_customers, dialect=dialect)
    )
    interactions = partial(_contact_days, dialect=dialect) if contacts else _no_contacts
    # Purchases alone first: their models are the longest preparation, so they start as soon as
    # possible, while the ten million contacts, the follow-ups and the customers are read (on a
    # connection of their own, or after the purchases on the same one: see ``read_in_one_snapshot``).
    prepared_purchases, (prepared_contacts, follow_ups, customers_frame) = read_in_one_snapshot(
        session,
        (
            Side(read=partial(_purchases, dialect=dialect), then=purchases_then),
            Side(
                read=lambda connection: (
                    interactions(connection),
                    _follow_ups(connection, notes=names),
                    customers(connection),
                ),
                then=lambda read: (contacts_then(read[0]), read[1], read[2]),
            ),
        ),
    )
    return Prepared(customers_frame, prepared_purchases, prepared_contacts, follow_ups)


def _as_read(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


# What every score as of a day needs: the purchases' day history with the models fitted on it, the
# contact days, the customers (ids and owners) and the follow-ups (without notes).
ScoringHistories = Prepared[tuple[PurchaseDays, ScoringFits], ContactDays]


def load_histories(session: Session, *, today: dt.date) -> ScoringHistories:
    """``load_prepared`` as the morning digest and the scoring job read the store: no names, the
    purchases' models fitted as of ``today`` while the contacts are read."""
    return load_prepared(
        session,
        names=False,
        purchases_then=partial(purchase_models, today=today),
        contacts_then=contact_history,
    )


def _no_contacts(_connection: Connection) -> pd.DataFrame:
    return pd.DataFrame({CUSTOMER_ID: np.empty(0, dtype=np.int64), DAY: np.empty(0, dtype=np.int64)})


def _follow_ups(connection: Connection, *, notes: bool) -> pd.DataFrame:
    """Every follow-up; without ``notes``, their texts are left unread (``read_notes``) and the
    few owners and statuses are categoricals: at a million customers the per-row strings and the
    allocator pages they pinned were about 90 MB held through the whole morning job."""
    columns = [
        "follow_up_id",
        "customer_id",
        "owner_id",
        "due_on",
        "status",
        *(["note"] if notes else []),
        "done_at",
    ]
    selected = ", ".join("id" if column == "follow_up_id" else column for column in columns)
    categories = {} if notes else {"owner_id": "category", "status": "category"}
    frame = _frame(
        connection,
        f"SELECT {selected} FROM follow_ups",
        columns,
        dates=("due_on", "done_at"),
        dtypes={"follow_up_id": "int64", **categories},
    )
    if categories:  # chunks with different categories concatenate to plain strings again
        frame = frame.astype({column: "category" for column in categories})
    return frame


def read_notes(session: Session, follow_up_ids: Sequence[int]) -> pd.Series:
    """The ``note`` of the given follow-ups, indexed by ``follow_up_id``: what a digest shows of
    the few it lists (see ``load_frames`` without names)."""
    rows: list[tuple[int, str | None]] = []
    wanted = sorted({int(i) for i in follow_up_ids})
    for start in range(0, len(wanted), NAMES_PER_QUERY):
        chosen = FollowUp.id.in_(wanted[start : start + NAMES_PER_QUERY])
        rows.extend(
            (int(id_), note)
            for id_, note in session.execute(select(FollowUp.id, FollowUp.note).where(chosen))
        )
    index = pd.Index([id_ for id_, _note in rows], dtype="int64", name="follow_up_id")
    return pd.Series([note for _id, note in rows], index=index, dtype=object, name="note")
