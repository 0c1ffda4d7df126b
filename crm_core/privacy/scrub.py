"""Making erased data unrecoverable from the store's files, once the erasing transaction committed.

Changing a row does not remove its old bytes from disk. SQLite: the erasure ran with
``secure_delete`` (freed space is zeroed as it is freed); VACUUM then rebuilds the file so no page
keeps an old copy, and a TRUNCATE checkpoint empties the write-ahead log, which holds pages as they
were. Both must run outside any transaction, hence here and not in the service. PostgreSQL: VACUUM
marks the dead row versions reusable but does not overwrite them, and VACUUM FULL locks the tables
while it rewrites them, so it is left to the operator, with the advice this returns (see README).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from crm_core.models import Customer, FollowUp, Interaction

ERASED_TABLES = ", ".join(model.__tablename__ for model in (Customer, Interaction, FollowUp))
POSTGRES_ADVICE = (
    f"PostgreSQL keeps old row versions on disk until their space is reused: in a quiet moment run "
    f"VACUUM FULL {ERASED_TABLES}; (it locks those tables while it runs). Copies in WAL archives, "
    "replicas' WAL and backups remain until they age out of retention"
)
SQLITE_BUSY_ADVICE = (
    "the erasure is saved, but the store was too busy to be compacted, so old copies may remain in "
    "its file: run the same erase again when crm-bot is idle (it repeats this clean-up)"
)


@dataclass(frozen=True)
class Scrub:
    """``advice`` is what remains for the operator to do ('' when nothing does)."""

    complete: bool
    advice: str = ""


def scrub_store(engine: Engine) -> Scrub:
    if engine.dialect.name == "sqlite":
        return _scrub_sqlite(engine)
    return _vacuum_postgres(engine)


def _scrub_sqlite(engine: Engine) -> Scrub:
    connection = engine.raw_connection()  # in autocommit mode (crm_core.store), as VACUUM needs
    try:
        cursor = connection.cursor()
        cursor.execute("VACUUM")
        busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:
        return Scrub(False, SQLITE_BUSY_ADVICE)
    finally:
        connection.close()
    return Scrub(True) if busy == 0 else Scrub(False, SQLITE_BUSY_ADVICE)


def _vacuum_postgres(engine: Engine) -> Scrub:
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f"VACUUM {ERASED_TABLES}")
    except DBAPIError:
        pass  # not the tables' owner, say: VACUUM only helps, the advice covers what matters
    return Scrub(False, POSTGRES_ADVICE)
