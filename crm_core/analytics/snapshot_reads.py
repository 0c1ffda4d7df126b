"""Reading the store for the morning job in one snapshot, on two sides that each prepare what they read.

Each side reads on a connection (the purchases; the contacts, follow-ups and customers), then makes
something of its rows with no connection (the purchases' day history and fitted models; the
contact days' summaries): at a million customers reading took 4-7 s and the models 8 s more on one
thread, while the other core idled through much of both.

On PostgreSQL most of reading is the server's own work (each block's arrays are built by one
server process per connection), so each side reads on a connection of its own. The caller's
transaction exports its snapshot (``pg_export_snapshot``) and each side imports it (``SET
TRANSACTION SNAPSHOT`` in a read-only repeatable-read transaction), as ``pg_dump --jobs`` does:
both sides then read exactly the same rows, committed before the export, and the caller's
transaction stays open until both are done, which the imported snapshot needs.

A transaction that has written anything has changes no other connection can see, so it reads
everything itself, one side after the other, as SQLite always does: a second SQLite connection
would begin its own snapshot, not share the caller's. Then the first side's preparation runs on
another thread while the next side reads (SQLite's steps and numpy's loops release the interpreter
lock). A caller with no transaction at all (a Slack request's reads on PostgreSQL run in
autocommit: ``crm_core.store.reading``) has no snapshot to export, so one is taken for the reading
alone, in a read-only repeatable-read transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from crm_core.analytics.side_thread import side_threads
from crm_core.store import autocommits

Read = TypeVar("Read")
Made = TypeVar("Made")

# What pg_export_snapshot returns (e.g. 00000003-0000001B-1): checked before it is put in a statement,
# which takes no bound parameter.
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")
# A snapshot imported, or exported for a caller that reads in autocommit: reads only, one snapshot.
_SNAPSHOT_OPTIONS = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


@dataclass(frozen=True)
class Side(Generic[Read, Made]):
    """One side of the reading: what it reads on a connection, then what it makes of that with no
    connection (histories, fitted models), while the other sides are still reading."""

    read: Callable[[Connection], Read]
    then: Callable[[Read], Made]


def read_in_one_snapshot(session: Session, sides: Sequence[Side[Any, Any]]) -> list[Any]:
    """Each side's ``then`` of its ``read`` on a connection seeing the snapshot of ``session``'s
    transaction (or, when the session reads in autocommit, of one taken for these reads).

    On PostgreSQL, when that transaction has written nothing, each side runs on a connection and a
    thread of its own at the same time (the first on this thread). Otherwise the reads take turns on
    the session's connection, on this thread, in the order given, and each side's ``then`` starts
    as soon as its read is done, on a thread of its own while the next side reads (the last one's
    on this thread): numpy and SQLite's own steps release the interpreter lock, so a model fitted
    on the purchases uses the core that reading the contacts leaves idle.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or len(sides) < 2:
        return _taking_turns(connection, sides)
    if autocommits(connection):
        with connection.engine.connect().execution_options(**_SNAPSHOT_OPTIONS) as exporting:
            try:
                return _shared(exporting, sides)
            finally:
                exporting.rollback()
    if _has_written(connection):
        return _taking_turns(connection, sides)
    return _shared(connection, sides)


def _taking_turns(connection: Connection, sides: Sequence[Side[Any, Any]]) -> list[Any]:
    """``sides`` reading one after another on ``connection``, each made into its result beside the
    next one's reading."""
    if not sides:
        return []
    *earlier, last = sides
    with side_threads(max(len(earlier), 1), "analytics-side") as pool:
        made = [pool.submit(side.then, side.read(connection)) for side in earlier]
        try:
            final = last.then(last.read(connection))
        except BaseException:
            for each in made:  # an earlier side's failure is raised first, as in ``_shared``
                each.result()
            raise
        return [*(each.result() for each in made), final]


def _shared(connection: Connection, sides: Sequence[Side[Any, Any]]) -> list[Any]:
    """``sides`` at once on connections importing the snapshot of ``connection``'s open transaction."""
    snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError("PostgreSQL exported a snapshot id of an unexpected form")
    engine = connection.engine

    def in_snapshot(side: Side[Read, Made]) -> Made:
        with engine.connect().execution_options(**_SNAPSHOT_OPTIONS) as reader:
            reader.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            try:
                read = side.read(reader)
            finally:
                reader.rollback()
        return side.then(read)

    with side_threads(len(sides) - 1, "analytics-snapshot") as pool:
        others = [pool.submit(in_snapshot, side) for side in sides[1:]]
        first = in_snapshot(sides[0])
        return [first, *(other.result() for other in others)]


def _has_written(connection: Connection) -> bool:
    """Whether this transaction has a transaction id, which PostgreSQL gives it at its first write."""
    return connection.execute(text("SELECT txid_current_if_assigned()")).scalar_one() is not None
