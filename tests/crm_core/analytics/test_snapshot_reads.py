"""The morning job's reads and what it makes of them, beside each other (``read_in_one_snapshot``)."""

from __future__ import annotations

import threading

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from crm_core.analytics.snapshot_reads import Side, read_in_one_snapshot
from tests.factories import customer

WAIT_S = 10


def test_reads_taking_turns_on_one_connection_are_prepared_while_the_next_one_reads(
    session: Session,
) -> None:
    """A transaction that wrote (on SQLite, any) reads on its own connection, one side after the
    other, on the caller's thread; the first side's preparation runs meanwhile on another."""
    customer(session, "Acme")
    session.flush()  # written: no other connection may read for it, on PostgreSQL either
    second_reading = threading.Event()
    threads: dict[str, str] = {}

    def first_read(connection: Connection) -> int:
        threads["first read"] = threading.current_thread().name
        return int(connection.execute(text("SELECT count(*) FROM customers")).scalar_one())

    def first_then(count: int) -> int:
        threads["first then"] = threading.current_thread().name
        # Returns only once the second side reads: run after the reads, it would wait in vain.
        assert second_reading.wait(WAIT_S), "the first side was prepared only after the second was read"
        return count * 10

    def second_read(connection: Connection) -> str:
        second_reading.set()
        threads["second read"] = threading.current_thread().name
        return str(connection.execute(text("SELECT name FROM customers")).scalar_one())

    made = read_in_one_snapshot(
        session, (Side(read=first_read, then=first_then), Side(read=second_read, then=str.upper))
    )

    assert made == [10, "ACME"]  # the rows the transaction wrote, read by its own connection
    caller = threading.current_thread().name
    assert threads["first read"] == threads["second read"] == caller
    assert threads["first then"] != caller


def test_a_failed_read_is_raised_after_the_preparations_under_way_finish(session: Session) -> None:
    """Nothing is left running when the reading fails: the caller's transaction ends after it."""
    session.execute(text("SELECT 1"))
    finished = threading.Event()

    def slow_then(value: int) -> int:
        finished.wait(0.2)
        finished.set()
        return value

    def failing_read(_connection: Connection) -> int:
        raise RuntimeError("the store went away")

    customer(session, "Acme")
    session.flush()
    try:
        read_in_one_snapshot(
            session, (Side(read=lambda _c: 1, then=slow_then), Side(read=failing_read, then=lambda v: v))
        )
    except RuntimeError as failure:
        assert str(failure) == "the store went away"
    else:
        raise AssertionError("the failed read was not raised")
    assert finished.is_set()


def test_when_both_sides_fail_the_first_sides_failure_is_raised(session: Session) -> None:
    """As where the sides read at once (PostgreSQL): the earlier failure is the one reported."""
    customer(session, "Acme")
    session.flush()

    def first_then(_value: int) -> int:
        raise ValueError("the purchases' models failed")

    def second_read(_connection: Connection) -> int:
        raise RuntimeError("the contacts could not be read")

    try:
        read_in_one_snapshot(
            session, (Side(read=lambda _c: 1, then=first_then), Side(read=second_read, then=lambda v: v))
        )
    except ValueError as failure:
        assert str(failure) == "the purchases' models failed"
        assert isinstance(failure.__context__, RuntimeError)  # the later one is kept beside it
    else:
        raise AssertionError("the first side's failure was not raised")
