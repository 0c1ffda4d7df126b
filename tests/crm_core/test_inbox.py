"""The inbox's rows: one per Slack id, taken again when a lease runs out or its owner died, done once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from crm_core.inbox.entries import AlreadyDone, count_backlog, enqueue, mark_done, purge_done, take
from crm_core.models import InboxEntry
from crm_core.store import make_engine, one_statement, read_only, transaction
from tests.races import needs_postgres, race

NOW = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=30)


def keep(
    unit: Session | Connection, key: str, *, owner: str = "host:1:a", now: dt.datetime = NOW
) -> int | None:
    return enqueue(
        unit,
        key=key,
        handler="answer_crm_command",
        request={"body": {"text": "log acme call hello"}, "context": {}, "headers": {}},
        owner=owner,
        now=now,
        lease=LEASE,
    )


def test_the_same_slack_id_twice_is_kept_once(session: Session) -> None:
    first = keep(session, "trigger:T1")
    assert first is not None
    assert keep(session, "trigger:T1") is None
    assert keep(session, "trigger:T2") not in (None, first)
    assert session.scalar(select(InboxEntry.request).where(InboxEntry.id == first))["body"]["text"] == (
        "log acme call hello"
    )


def test_a_row_is_taken_again_only_when_its_lease_ran_out_or_its_owner_died(session: Session) -> None:
    held = keep(session, "trigger:held", owner="host:1:a")
    orphan = keep(session, "trigger:orphan", owner="host:2:b")
    assert held is not None and orphan is not None
    assert take(session, owner="host:3:c", now=NOW + LEASE / 2, lease=LEASE, limit=10) == []
    [taken] = take(
        session, owner="host:3:c", now=NOW + LEASE / 2, lease=LEASE, limit=10, dead_owners=["host:2:b"]
    )
    assert (taken.id, taken.attempts, taken.handler) == (orphan, 2, "answer_crm_command")
    later = NOW + LEASE + dt.timedelta(seconds=1)
    assert [t.id for t in take(session, owner="host:3:c", now=later, lease=LEASE, limit=10)] == [held]
    # Taken again, each holds a new lease.
    assert take(session, owner="host:4:d", now=later, lease=LEASE, limit=10) == []


def test_done_rows_are_never_taken_and_are_purged_after_they_were_kept_long_enough(session: Session) -> None:
    entry = keep(session, "event:Ev1")
    assert entry is not None
    mark_done(session, entry_id=entry, now=NOW)
    assert take(session, owner="x:1:a", now=NOW + 10 * LEASE, lease=LEASE, limit=10) == []
    assert count_backlog(session, since=NOW - LEASE).done_since == 1
    assert purge_done(session, before=NOW) == 0
    assert purge_done(session, before=NOW + dt.timedelta(seconds=1)) == 1
    # Forgotten: the id may come again (past Slack's replay window).
    assert keep(session, "event:Ev1") is not None


def test_the_backlog_counts_what_waits_and_what_was_done_lately(session: Session) -> None:
    ids = [keep(session, f"trigger:{n}") for n in range(5)]
    for entry in ids[:2]:
        assert entry is not None
        mark_done(session, entry_id=entry, now=NOW)
    counted = count_backlog(session, since=NOW - dt.timedelta(seconds=10))
    assert (counted.waiting, counted.done_since) == (3, 2)


def test_marking_done_twice_is_refused(session: Session) -> None:
    entry = keep(session, "trigger:once")
    assert entry is not None
    mark_done(session, entry_id=entry, now=NOW)
    with pytest.raises(AlreadyDone):
        mark_done(session, entry_id=entry, now=NOW)


@needs_postgres
def test_two_runs_of_one_request_at_once_store_it_once(engine: Engine) -> None:
    """A lease ran out while the first run was still going: the second run's unit waits, then rolls back."""
    with transaction(engine) as session:
        entry = keep(session, "trigger:twice")
    assert entry is not None

    def run(session: Session) -> None:
        mark_done(session, entry_id=entry, now=NOW)

    second = race(engine, run, run)
    with pytest.raises(AlreadyDone):
        second.outcome()


def test_a_request_kept_by_one_statement_is_committed_and_its_connection_transacts_again(
    engine: Engine, database_url: str
) -> None:
    """``one_statement`` (the ack's insert) and ``read_only`` (the asker's role) run without a
    transaction on PostgreSQL (autocommit); the pooled connection must come back in its usual mode,
    or every later unit of work on it would commit statement by statement. With a pool of one
    connection, the next unit runs on the same one."""
    one = make_engine(database_url, pool_size=1, max_overflow=0)

    def a_failed_unit_keeps_nothing() -> None:
        with pytest.raises(LookupError), transaction(one) as session:
            keep(session, "trigger:rolled-back")
            raise LookupError("the handler failed after its first statement")

    try:
        with one_statement(one) as connection:
            kept = keep(connection, "trigger:one")
        assert kept is not None
        with transaction(engine) as session:  # committed: another connection sees it
            assert session.scalar(select(InboxEntry.id).where(InboxEntry.key == "trigger:one")) == kept
        a_failed_unit_keeps_nothing()
        with read_only(one) as connection:
            assert connection.scalar(select(InboxEntry.id).where(InboxEntry.id == kept)) == kept
        a_failed_unit_keeps_nothing()
    finally:
        one.dispose()
    with transaction(engine) as session:
        assert session.scalars(select(InboxEntry.key)).all() == ["trigger:one"]
