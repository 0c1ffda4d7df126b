"""The loader: each stored time's UTC day as pandas gives it, every row as reading them one by one does."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from unittest.mock import ANY

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_core.analytics import load
from crm_core.analytics.frames import FrameContractError, validate_purchases
from crm_core.analytics.history import ContactDays, PurchaseDays, day_number
from crm_core.analytics.load import BLOCK_CUSTOMERS, load_frames, load_prepared, read_names, read_notes
from crm_core.analytics.scores import score_customers
from crm_core.demo.generator import generate_demo_data
from crm_core.demo.loader import write_demo_data
from crm_core.models import Customer, Interaction, Purchase
from crm_core.store import reading, transaction
from tests.factories import TEST_ACTOR, customer
from tests.races import needs_postgres

# Stored naive UTC. The last microseconds of a day, which julianday() of the whole timestamp rounds
# to the next millisecond (and so to the next day), and a time before 1970, where truncating a
# negative fraction of a day towards zero would give the wrong day.
TIMES = (
    dt.datetime(2026, 11, 24, 23, 59, 59, 999_900),
    dt.datetime(2026, 11, 25, 0, 0),
    dt.datetime(2026, 11, 25, 18, 30),  # a second contact that day: one contact day
    dt.datetime(1969, 12, 31, 23, 0),
)


TODAY = dt.date(2026, 11, 25)
NOW = dt.datetime.combine(TODAY, dt.time(23, 59), tzinfo=dt.UTC)  # the import refuses later rows


def _pandas_days(times: tuple[dt.datetime, ...]) -> list[int]:
    """What the analytics did before the loader computed days: parse, then floor to the day."""
    stamps = pd.to_datetime(pd.Series(times)).to_numpy()
    return sorted(set(stamps.astype("datetime64[D]").astype(np.int64).tolist()))


def test_days_are_the_utc_dates_of_the_stored_times(session: Session) -> None:
    someone = customer(session, "Acme")
    for when in TIMES:
        session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=when))
        session.add(Purchase(customer_id=someone.id, occurred_at=when, amount=100, currency="JPY"))
    session.flush()

    frames = load_frames(session)

    expected = _pandas_days(TIMES)
    assert expected == [-1, day_number(dt.date(2026, 11, 24)), day_number(dt.date(2026, 11, 25))]
    assert frames.interactions["day"].tolist() == expected
    assert frames.interactions["customer_id"].tolist() == [someone.id] * 3
    assert sorted(frames.purchases["day"].tolist()) == sorted(
        pd.to_datetime(pd.Series(TIMES)).to_numpy().astype("datetime64[D]").astype(np.int64).tolist()
    )
    assert frames.purchases["amount"].tolist() == [100.0] * len(TIMES)


def test_the_loaded_interactions_are_the_contact_history_without_a_copy(session: Session) -> None:
    for name, days in (("Acme", (3, 1, 2)), ("Globex", (5,))):
        someone = customer(session, name)
        for day in days:
            when = dt.datetime(2026, 11, day, 9)
            session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=when))
    session.flush()

    interactions = load_frames(session).interactions
    contacts = ContactDays.from_interactions(interactions)

    assert contacts.frame["day"].tolist() == interactions["day"].tolist()
    assert np.shares_memory(contacts.frame["day"].to_numpy(), interactions["day"].to_numpy())
    assert contacts.per_customer["contact_days"].tolist() == [3, 1]


def _rows_read_one_by_one(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Purchases and interactions as the loader read them before it read joined blocks: every row
    through SQLAlchemy's typed columns, days floored by pandas, amounts from their ``Decimal``."""
    purchases = session.execute(select(Purchase.customer_id, Purchase.occurred_at, Purchase.amount)).all()
    interactions = session.execute(select(Interaction.customer_id, Interaction.occurred_at)).all()

    def days(times: list[dt.datetime]) -> np.ndarray:
        return (
            pd.to_datetime(pd.Series(times, dtype="object"))
            .to_numpy()
            .astype("datetime64[D]")
            .astype(np.int64)
        )

    return (
        pd.DataFrame(
            {
                "customer_id": np.array([r[0] for r in purchases], dtype=np.int64),
                "day": days([r[1] for r in purchases]),
                "amount": np.array([float(r[2]) for r in purchases], dtype=np.float64),
            }
        ),
        pd.DataFrame(
            {
                "customer_id": np.array([r[0] for r in interactions], dtype=np.int64),
                "day": days([r[1] for r in interactions]),
            }
        ),
    )


def _generated_store(session: Session) -> None:
    """The demo generator's customers with its purchases and interactions, plus the awkward cases:
    several purchases and a refund on one day, cents that do not add up exactly in binary, and
    times at the edges of a day."""
    data = generate_demo_data(customers=400, seed=7, today=TODAY)
    write_demo_data(session, data=data, actor=TEST_ACTOR, now=NOW)
    someone = customer(session, "Many Baskets")
    for when, amount in (
        (dt.datetime(2026, 11, 20, 9), Decimal("0.10")),
        (dt.datetime(2026, 11, 20, 12), Decimal("0.20")),
        (dt.datetime(2026, 11, 20, 23, 59, 59, 999_999), Decimal("-0.05")),
        (dt.datetime(2026, 11, 21, 0, 0), Decimal("123456789012.34")),
        (dt.datetime(1969, 12, 31, 23, 0), Decimal("7.77")),
    ):
        session.add(Purchase(customer_id=someone.id, occurred_at=when, amount=amount, currency="JPY"))
        session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=when))
    session.flush()


@pytest.mark.parametrize("block_customers", [BLOCK_CUSTOMERS, 37])
def test_the_loader_reads_what_reading_row_by_row_reads(
    session: Session, monkeypatch: pytest.MonkeyPatch, block_customers: int
) -> None:
    _generated_store(session)
    # Several blocks, a last partial one.
    monkeypatch.setattr(load, "BLOCK_CUSTOMERS", block_customers)
    monkeypatch.setattr(load, "BLOCK_PURCHASES", block_customers * 5)

    frames = load_frames(session)
    purchases, interactions = _rows_read_one_by_one(session)

    by_row = ["customer_id", "day", "amount"]
    assert len(purchases) > 1_000
    # In the contract's own dtypes: the activity rows' ids and days as int32 (half of int64's memory).
    pd.testing.assert_frame_equal(
        frames.purchases.sort_values(by_row, ignore_index=True),
        validate_purchases(purchases).sort_values(by_row, ignore_index=True),
        check_exact=True,
    )
    assert {str(frames.purchases[c].dtype) for c in ("customer_id", "day")} == {"int32"}
    assert {str(frames.interactions[c].dtype) for c in ("customer_id", "day")} == {"int32"}
    contacts = ContactDays.from_interactions(interactions)
    pd.testing.assert_frame_equal(frames.interactions, contacts.frame, check_exact=True)
    assert PurchaseDays.from_purchases(frames.purchases).frame.equals(
        PurchaseDays.from_purchases(purchases).frame
    )
    loaded_scores, _ = score_customers(frames.customers, frames.purchases, frames.interactions, TODAY)
    read_scores, _ = score_customers(frames.customers, purchases, interactions, TODAY)
    pd.testing.assert_frame_equal(loaded_scores, read_scores, check_exact=True)


@pytest.mark.parametrize("block_customers", [BLOCK_CUSTOMERS, 7])
def test_without_names_customers_are_their_ids_and_owners_and_names_are_read_for_the_few_asked(
    session: Session, monkeypatch: pytest.MonkeyPatch, block_customers: int
) -> None:
    _generated_store(session)
    session.add(Customer(external_id="C-NOBODY", name="Unowned, Ltd.", name_key="unowned ltd", owner_id=None))
    session.flush()
    monkeypatch.setattr(load, "BLOCK_CUSTOMERS", block_customers)
    monkeypatch.setattr(load, "NAMES_PER_QUERY", 3)
    named = load_frames(session).customers.sort_values("customer_id", ignore_index=True)

    owned = load_frames(session, names=False).customers

    pd.testing.assert_frame_equal(owned, named[["customer_id", "owner_id"]], check_exact=True)
    assert owned["owner_id"].isna().sum() == 2 and owned["owner_id"].nunique() > 1  # and Many Baskets
    asked = named.iloc[[0, 5, 9, 11, 200, -1]]
    pd.testing.assert_frame_equal(
        read_names(session, [*asked["customer_id"], int(asked["customer_id"].iloc[0])]),
        asked.set_index("customer_id")[["external_id", "name"]],
    )
    assert read_names(session, []).empty


def test_without_names_follow_ups_leave_their_notes_to_be_read_for_the_few_shown(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _generated_store(session)
    monkeypatch.setattr(load, "NAMES_PER_QUERY", 3)
    monkeypatch.setattr(load, "CHUNK_ROWS", 5)  # chunks with different owners and statuses
    full = load_frames(session).follow_ups

    lean = load_frames(session, names=False).follow_ups

    assert "note" not in lean.columns and len(full) > 10
    assert isinstance(lean["owner_id"].dtype, pd.CategoricalDtype)
    expected = full.drop(columns="note")
    pd.testing.assert_frame_equal(lean.astype(expected.dtypes.to_dict()), expected, check_exact=True)
    asked = full.iloc[[0, 3, 7, -1]]
    notes = read_notes(session, [*asked["follow_up_id"], int(asked["follow_up_id"].iloc[0])])
    assert notes.to_dict() == dict(zip(asked["follow_up_id"], asked["note"], strict=True))
    assert read_notes(session, []).empty


def test_stored_times_of_one_length_and_of_several_give_the_same_days() -> None:
    times = ["2026-11-24 23:59:59.999900", "1969-12-31 23:00:00.000000", "2000-02-29 12:00:00.000000"]
    expected = [day_number(dt.date(2026, 11, 24)), -1, day_number(dt.date(2000, 2, 29))]

    assert load._iso_days(",".join(times)).tolist() == expected  # one length: read in place
    assert load._iso_days(",".join([*times, "2026-11-25"])).tolist() == [*expected, expected[0] + 1]
    for broken in (
        "2026-11-24,2026-1-25",
        "2026-11-2",
        "2026-11-24 00:00:00.000000,2026-11-x4 00:00:00.000000",
    ):
        with pytest.raises(FrameContractError):
            load._iso_days(broken)


def test_sqlite_amounts_parse_to_the_doubles_python_parses() -> None:
    """Amounts as SQLite prints them (``group_concat``: ``%!.15g``) of every size a store holds."""
    rng = np.random.default_rng(13)
    cents = np.concatenate(
        (
            rng.integers(-(10**14), 10**14, 40_000),  # up to 14 digits, as numeric(14, 2) allows
            rng.integers(-(10**6), 10**6, 40_000),
            np.array([1, 10, 20, 30, -1, 12345678901234, 99999999999999, -99999999999999]),
        )
    )
    printed = sqlite3.connect(":memory:")
    printed.execute("CREATE TABLE amounts (amount NUMERIC)")
    printed.executemany("INSERT INTO amounts VALUES (?)", [(int(c) / 100,) for c in cents])
    joined = printed.execute("SELECT group_concat(amount) FROM amounts").fetchone()[0]

    parsed = load._amounts(joined)

    assert parsed.dtype == np.float64
    assert parsed.tolist() == [float(text) for text in joined.split(",")]
    assert parsed[-8:].tolist() == [
        0.01,
        0.1,
        0.2,
        0.3,
        -0.01,
        123456789012.34,
        999999999999.99,
        -999999999999.99,
    ]


@needs_postgres
def test_int4_and_float8_arrays_are_read_from_postgresqls_binary_form(engine: Engine) -> None:
    with engine.connect() as connection:
        cursor = load.binary_cursor(connection)
        cursor.execute(
            "SELECT ARRAY[1, -2, 2147483647, -2147483648]::int4[], ARRAY[1, NULL]::int4[], "
            "ARRAY[[1, 2], [3, 4]]::int4[], "
            "ARRAY[0.1, -2.5, 123456789012.34, 1e-300]::float8[], ARRAY[1.5, NULL]::float8[], "
            "(ARRAY[0.10, 0.20, 123456789012.34]::numeric(14, 2)[])::float8[], ARRAY[]::int4[]"
        )
        integers, integer_null, square, doubles, double_null, from_numeric, empty = cursor.fetchone()

    assert load._binary_array(integers, load._INT4_OID).tolist() == [1, -2, 2147483647, -2147483648]
    assert load._binary_array(doubles, load._FLOAT8_OID).tolist() == [0.1, -2.5, 123456789012.34, 1e-300]
    # numeric to float8 is the double its printed text parses to, as the SQLite side parses it.
    assert load._binary_array(from_numeric, load._FLOAT8_OID).tolist() == [
        float("0.10"),
        0.2,
        123456789012.34,
    ]
    for broken, element in (
        (integer_null, load._INT4_OID),
        (square, load._INT4_OID),
        (double_null, load._FLOAT8_OID),
        (empty, load._INT4_OID),
    ):
        with pytest.raises(FrameContractError):
            load._binary_array(broken, element)
    with pytest.raises(FrameContractError):  # an int4 array is no float8 array
        load._binary_array(integers, load._FLOAT8_OID)


@needs_postgres
def test_a_transaction_that_wrote_nothing_reads_on_two_connections_what_row_by_row_reads(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        _generated_store(session)
    threads: dict[str, str] = {}

    def noted(side: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
        def then(frame: pd.DataFrame) -> pd.DataFrame:
            threads[side] = threading.current_thread().name
            return frame

        return then

    with transaction(engine) as session:
        prepared = load_prepared(session, purchases_then=noted("purchases"), contacts_then=noted("contacts"))
        purchases, interactions = _rows_read_one_by_one(session)

    # The purchases' side on the caller's thread, the contacts' on a thread (and connection) of its own.
    assert threads == {"purchases": threading.current_thread().name, "contacts": ANY}
    assert threads["contacts"] != threads["purchases"]
    frames = load.StoreFrames(prepared.customers, prepared.purchases, prepared.contacts, prepared.follow_ups)
    by_row = ["customer_id", "day", "amount"]
    # In the contract's own dtypes: the activity rows' ids and days as int32 (half of int64's memory).
    pd.testing.assert_frame_equal(
        frames.purchases.sort_values(by_row, ignore_index=True),
        validate_purchases(purchases).sort_values(by_row, ignore_index=True),
        check_exact=True,
    )
    assert {str(frames.purchases[c].dtype) for c in ("customer_id", "day")} == {"int32"}
    assert {str(frames.interactions[c].dtype) for c in ("customer_id", "day")} == {"int32"}
    pd.testing.assert_frame_equal(
        frames.interactions, ContactDays.from_interactions(interactions).frame, check_exact=True
    )
    assert len(frames.customers) > 100 and len(frames.follow_ups) > 0


@needs_postgres
def test_a_requests_reads_without_a_transaction_read_in_a_snapshot_taken_for_them(engine: Engine) -> None:
    """A Slack request's reads run in autocommit on PostgreSQL (a profile card before any scoring
    loads the store): with no transaction of the caller's to export, one is taken for the reading."""
    with transaction(engine) as session:
        _generated_store(session)
    with transaction(engine) as session:
        expected = load_frames(session)
    with reading(engine, one_transaction=False) as session:
        frames = load_frames(session)
    pd.testing.assert_frame_equal(frames.purchases, expected.purchases, check_exact=True)
    pd.testing.assert_frame_equal(frames.interactions, expected.interactions, check_exact=True)
    pd.testing.assert_frame_equal(frames.customers, expected.customers, check_exact=True)


def test_a_transaction_that_wrote_reads_its_own_rows(session: Session) -> None:
    """Another connection would not see them, so nothing is read in parallel (PostgreSQL), and on
    SQLite nothing ever is."""
    someone = customer(session, "Acme")
    session.add(Purchase(customer_id=someone.id, occurred_at=TIMES[1], amount=5, currency="JPY"))
    session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=TIMES[1]))
    session.flush()

    frames = load_frames(session)

    assert frames.purchases["customer_id"].tolist() == [someone.id]
    assert frames.interactions["customer_id"].tolist() == [someone.id]
    assert frames.customers["customer_id"].tolist() == [someone.id]
