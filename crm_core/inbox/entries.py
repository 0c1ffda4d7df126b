"""The inbox's rows: put in before the ack, taken by a process, marked done by the handler's unit.

A request answered after its ack is one row from the moment Slack is told "received" until a
handler's unit of work has committed with the row marked done, so nothing acknowledged lives only in
a process's memory. ``enqueue`` is the one small insert on the ack's path; Slack's own id of the
request is unique, so a replay or a retry is refused by the database, whoever receives it.
The process that inserts a row owns it for a lease; when the lease runs out (the process died, its
worker was killed) any process ``take``s it again. A row is run at least once and stored at most
once: ``mark_done`` finds it already done when another run committed first, and that run's unit
rolls back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from crm_core.models import InboxEntry


class AlreadyDone(Exception):
    """Another run of this request committed first: this one must change nothing and say nothing."""


@dataclass(frozen=True)
class Taken:
    """A row taken to be run (again): which handler, and the request as it was acknowledged."""

    id: int
    handler: str
    request: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class BacklogCount:
    waiting: int  # rows not done, whoever holds them
    done_since: int  # rows done since the time asked about


def _naive(moment: dt.datetime) -> dt.datetime:
    """Stored as UTC without a zone, like every other timestamp of the store."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


# The inbox's statements go to the connection as Core: the ack's insert and the handler's done mark
# are on every request's path, and the ORM's bulk insert and update machinery cost more Python than
# the statements themselves (about half a millisecond of CPU each, measured on PostgreSQL).
_INBOX: Table = InboxEntry.__table__  # type: ignore[assignment]


def _connection(unit: Session | Connection) -> Connection:
    """The connection of the caller's transaction, to execute Core statements on."""
    return unit.connection() if isinstance(unit, Session) else unit


# Built once: a statement built per call (``.values(…)`` with the row's values) costs its
# construction and cache key every time, about a quarter of a millisecond of CPU on the ack's path.
_INSERT_ONCE: dict[str, ReturningInsert[Any]] = {
    "postgresql": postgresql.insert(_INBOX)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_INBOX.c.id),
    "sqlite": sqlite.insert(_INBOX).on_conflict_do_nothing(index_elements=["key"]).returning(_INBOX.c.id),
}
_MARK_DONE = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("entry_id"), _INBOX.c.done_at.is_(None))
    .values(done_at=bindparam("done_at"))
)


def enqueue(
    unit: Session | Connection,
    *,
    key: str,
    handler: str,
    request: dict[str, Any],
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> int | None:
    """Keep an acknowledged request, owned by ``owner`` for ``lease``; None when ``key`` is known already."""
    values = {
        "key": key,
        "handler": handler,
        "request": request,
        "received_at": _naive(now),
        "claimed_by": owner,
        "claimed_until": _naive(now + lease),
        "attempts": 1,
    }
    connection = _connection(unit)
    # INSERT … ON CONFLICT (key) DO NOTHING RETURNING id, in the store's dialect.
    insert = _INSERT_ONCE[connection.dialect.name]
    inserted: int | None = connection.execute(insert, values).scalar_one_or_none()
    return inserted


def mark_done(unit: Session | Connection, *, entry_id: int, now: dt.datetime) -> None:
    """Mark a row done in the caller's unit of work; ``AlreadyDone`` if another run did first.

    On PostgreSQL a second run's update waits for the first run's transaction and then finds the
    row done; on SQLite the write lock orders them the same way.
    """
    marked = _connection(unit).execute(_MARK_DONE, {"entry_id": entry_id, "done_at": _naive(now)})
    if marked.rowcount != 1:
        raise AlreadyDone(f"inbox entry {entry_id} was answered by another run")


def take(
    session: Session,
    *,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    dead_owners: Collection[str] = (),
) -> list[Taken]:
    """Take rows whose lease ran out, or whose owner is known dead, for ``owner`` and a new lease.

    ``SKIP LOCKED`` on PostgreSQL: replicas sweeping at once take different rows; SQLite's write lock
    serialises them.
    """
    stale = InboxEntry.claimed_until < _naive(now)
    if dead_owners:
        stale = stale | InboxEntry.claimed_by.in_(list(dead_owners))
    candidates = (
        select(InboxEntry.id)
        .where(InboxEntry.done_at.is_(None), stale)
        .order_by(InboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(InboxEntry)
        .where(InboxEntry.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=owner, claimed_until=_naive(now + lease), attempts=InboxEntry.attempts + 1)
        .returning(InboxEntry.id, InboxEntry.handler, InboxEntry.request, InboxEntry.attempts),
        execution_options={"synchronize_session": False},
    ).all()
    return sorted((Taken(*row) for row in rows), key=lambda taken: taken.id)


def owners_waiting(session: Session, *, prefix: str) -> list[str]:
    """Owners starting with ``prefix`` (one host's processes) that hold rows not yet done."""
    return list(
        session.scalars(
            select(InboxEntry.claimed_by)
            .where(InboxEntry.done_at.is_(None), InboxEntry.claimed_by.startswith(prefix, autoescape=True))
            .distinct()
        )
    )


def count_backlog(session: Session, *, since: dt.datetime) -> BacklogCount:
    """How many rows wait, and how many were done since ``since`` (each counted on the done_at index)."""
    waiting = select(func.count()).where(InboxEntry.done_at.is_(None)).scalar_subquery()
    done = select(func.count()).where(InboxEntry.done_at >= _naive(since)).scalar_subquery()
    row = session.execute(select(waiting, done)).one()
    return BacklogCount(waiting=int(row[0]), done_since=int(row[1]))


def purge_done(session: Session, *, before: dt.datetime) -> int:
    """Forget rows done before ``before``: their keys no longer need to catch a replay or a retry."""
    purged = session.execute(
        InboxEntry.__table__.delete().where(InboxEntry.done_at < _naive(before))  # type: ignore[attr-defined]
    )
    return int(getattr(purged, "rowcount", 0))
