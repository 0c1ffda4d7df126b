"""Reading the store for the morning job on two PostgreSQL connections that see one snapshot.

At a million customers most of loading is PostgreSQL's own work (each block's texts are built by
one server process per connection), so one connection left a core idle. The caller's transaction
exports its snapshot (``pg_export_snapshot``) and each side of the reading imports it
(``SET TRANSACTION SNAPSHOT`` in a read-only repeatable-read transaction), as ``pg_dump --jobs``
does: both sides then read exactly the same rows, committed before the export, and the caller's
transaction stays open until both are done, which the imported snapshot needs.

A transaction that has written anything has changes no other connection can see, so it reads
everything itself, one side after the other, as SQLite always does: a second SQLite connection
would begin its own snapshot, not share the caller's. A caller with no transaction at all (a Slack
request's reads on PostgreSQL run in autocommit: ``crm_core.store.reading``) has no snapshot to
export, so one is taken for the reading alone, in a read-only repeatable-read transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from crm_core.store import autocommits

Read = TypeVar("Read")

# What pg_export_snapshot returns (e.g. 00000003-0000001B-1): checked before it is put in a statement,
# which takes no bound parameter.
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")
# A snapshot imported, or exported for a caller that reads in autocommit: reads only, one snapshot.
_SNAPSHOT_OPTIONS = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


def read_in_one_snapshot(session: Session, reads: Sequence[Callable[[Connection], Read]]) -> list[Read]:
    """Each of ``reads`` run on a connection seeing the snapshot of ``session``'s transaction (or,
    when the session reads in autocommit, of one taken for these reads): on PostgreSQL, when that
    transaction has written nothing, each on a connection of its own at the same time (the first on
    this thread); otherwise one after the other on the session's connection."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or len(reads) < 2:
        return [read(connection) for read in reads]
    if autocommits(connection):
        with connection.engine.connect().execution_options(**_SNAPSHOT_OPTIONS) as exporting:
            try:
                return _shared(exporting, reads)
            finally:
                exporting.rollback()
    if _has_written(connection):
        return [read(connection) for read in reads]
    return _shared(connection, reads)


def _shared(connection: Connection, reads: Sequence[Callable[[Connection], Read]]) -> list[Read]:
    """``reads`` at once on connections importing the snapshot of ``connection``'s open transaction."""
    snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError("PostgreSQL exported a snapshot id of an unexpected form")
    engine = connection.engine

    def in_snapshot(read: Callable[[Connection], Read]) -> Read:
        with engine.connect().execution_options(**_SNAPSHOT_OPTIONS) as side:
            side.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            try:
                return read(side)
            finally:
                side.rollback()

    # The first read on this thread: a thread's own malloc arena keeps what its temporaries freed
    # (about 150 MB at a million customers for the two sides on threads of their own), so the
    # largest read stays in this thread's.
    with ThreadPoolExecutor(max_workers=len(reads) - 1, thread_name_prefix="analytics-snapshot") as sides:
        others = [sides.submit(in_snapshot, read) for read in reads[1:]]
        first = in_snapshot(reads[0])
        return [first, *(other.result() for other in others)]


def _has_written(connection: Connection) -> bool:
    """Whether this transaction has a transaction id, which PostgreSQL gives it at its first write."""
    return connection.execute(text("SELECT txid_current_if_assigned()")).scalar_one() is not None
