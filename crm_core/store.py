"""Engine, sessions and schema checks for the shared store (SQLite or PostgreSQL).

One transaction per user action: callers open ``transaction(engine)`` once, pass the session to
services, and the block commits or rolls back as a whole. Services never commit.
"""

from __future__ import annotations

import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, Pool

from crm_core.audit.service import record
from crm_core.config import DEFAULT_DB_POOL_SIZE
from crm_core.errors import ConfigError, Forbidden, SchemaOutOfDate
from crm_core.models import AuditEvent

# Package data, so that `pip install .` carries the migrations: found through the import system, not a
# path beside the source tree (which, installed, was the alembic library's own folder).
MIGRATIONS_DIR = str(files("crm_core.migrations"))
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Connections kept open per process: ``CRM_DB_POOL_SIZE`` (default 10), up to the number of its threads
# that use the store at once if PostgreSQL's max_connections allows it for every process of every
# replica (README, "Running several replicas"). SQLAlchemy's default kept 5 and closed the rest after
# each use, so 16 concurrent requests opened and closed a connection every few requests (on PostgreSQL
# a server process each time: about 1 in 5 logs at 16 clients). At peak a process opens
# ``POOL_OVERFLOW`` more, and name search one outside the pool (``read_aside``).
POOL_SIZE = DEFAULT_DB_POOL_SIZE
POOL_OVERFLOW = 4
_READS_ONLY = "crm_reads_only"  # an execution option: see ``reading``
_AUTOCOMMIT = "AUTOCOMMIT"  # SQLAlchemy's isolation level for statements without a transaction


def make_engine(url: str, *, pool_size: int = POOL_SIZE, **kwargs: Any) -> Engine:
    """Create an engine with the pragmas SQLite needs for several writers (WAL, busy timeout, FKs).

    ``pool_size`` connections are kept open (``Settings.db_pool_size``), ``POOL_OVERFLOW`` more opened
    at peak; an in-memory SQLite database has one connection, whatever the size.

    PostgreSQL's pooled connections are tested before use: after a restart or a failover every idle
    connection in the pool is dead, and without the test the first request on each would fail
    (tests/reliability/test_postgres_connection_killed.py). The test is ``_checked_out``, not
    SQLAlchemy's ``pool_pre_ping``, whose ``SELECT 1`` was a round trip per checkout (three per
    ``/crm log``: about 0.15 ms of CPU here and as much again in the server, each).
    """
    postgres = url.startswith("postgresql")
    # A SQLite file has no server to restart or fail over: its connections are not tested.
    kwargs.setdefault("pool_pre_ping", not url.startswith("sqlite") and not postgres)
    if "poolclass" not in kwargs and not _in_memory(url):
        kwargs["pool_size"] = pool_size
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        # The last connection returned is lent first: traffic after a burst keeps reusing a few
        # connections, fresh enough not to be pinged (``_checked_out``), while the rest age, and are
        # pinged once, when a burst comes back. In the pool's default order every request took the
        # connection idle longest: at 5 requests a second after a burst, 15 pings in 20 requests.
        kwargs.setdefault("pool_use_lifo", postgres)
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:
        raise ConfigError(
            "DATABASE_URL is not a valid database URL: use sqlite:///path/to/file.sqlite3 "
            "or postgresql+psycopg://user@host:5432/dbname"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
    if postgres and not kwargs["pool_pre_ping"]:
        event.listen(engine.pool, "connect", _note_checkin)  # a new connection counts as just used
        event.listen(engine.pool, "checkin", _note_checkin)
        event.listen(engine.pool, "checkout", partial(_checked_out, engine.dialect))
    return engine


# A pooled PostgreSQL connection idle longer than this is pinged at checkout (see ``_checked_out``).
IDLE_PING_SECONDS = 1.0
_CHECKED_IN = "crm_checked_in"  # the monotonic time a connection went back to the pool, in its record


def _note_checkin(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
    entry.info[_CHECKED_IN] = time.monotonic()


def _checked_out(dialect: Dialect, dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: object) -> None:
    """Refuse a pooled PostgreSQL connection that no longer reaches a server; the pool then opens a
    new one.

    Two checks, because a server can go in two ways. One that ends a connection (a restart, a
    failover's fencing, ``pg_terminate_backend``) sends its notice and end: an idle connection has
    read everything it was sent, so anything readable on its socket came unasked, and asking the
    socket is a system call, not a round trip (little else arrives unasked: crm-bot never LISTENs,
    and a setting the server reports changed by a reload costs that connection a reconnection). A
    host that dies without a word (power loss, a killed VM) sends nothing: when a standby takes over
    its address, the first packet a pooled connection sends is answered by a reset. So a connection
    idle in the pool longer than ``IDLE_PING_SECONDS`` is also pinged with ``SELECT 1``, as
    ``pool_pre_ping`` pinged every checkout: under load connections come back within milliseconds
    and are never pinged, and an idle bot can afford a round trip. What remains is a host dying
    within the last second of a connection's use, and a peer gone silent with no successor (no
    packet at all): both wait for TCP to give up.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the connection was closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection while it was idle in the pool")
    if time.monotonic() - entry.info.get(_CHECKED_IN, -float("inf")) > IDLE_PING_SECONDS:
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure of the ping means no usable connection
            raise DisconnectionError("the server did not answer a connection idle in the pool") from exc


def _in_memory(url: str) -> bool:
    """A SQLite database in memory, whose single-connection pool takes no size."""
    return url.startswith("sqlite") and (
        url.split("?")[0].rstrip("/").endswith(":") or ":memory:" in url or "mode=memory" in url
    )


@contextmanager
def read_aside(engine: Engine) -> Iterator[Connection]:
    """``read_only`` on a connection of its own, not one of ``engine``'s pool.

    For a read made while the caller holds one of the pool's connections and a lock that other
    holders of the pool's connections wait for (name search's build lock): from the pool, it would
    wait for one of theirs to come back while they wait for the lock, up to the pool's timeout. The
    connection is kept, one per pool, and its users take turns (name search: under its build lock), so
    a process has at most one connection more than its pool. A SQLite database in memory exists only on the
    pool's own connection, so it is read there.
    """
    if _in_memory(engine.url.render_as_string(hide_password=False)):
        with read_only(engine) as connection:
            yield connection
        return
    with _aside_lock:
        aside = _aside.get(engine.pool)
        if aside is None:
            url = engine.url.render_as_string(hide_password=False)
            aside = _aside[engine.pool] = make_engine(url, pool_size=1, max_overflow=0)
    with read_only(aside) as connection:
        yield connection


# Keyed by the pool, which the engines made by ``execution_options`` share; dropped with it (``dispose``).
_aside: weakref.WeakKeyDictionary[Pool, Engine] = weakref.WeakKeyDictionary()
_aside_lock = threading.Lock()


def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock at BEGIN, so concurrent writers wait (busy timeout) instead of failing.

    With a deferred BEGIN, two transactions that read and then write can deadlock, and SQLite answers
    one of them "database is locked" at once, whatever the busy timeout. ``reading`` never writes in
    its transaction, so it begins deferred: a WAL snapshot, no lock.
    """
    connection.exec_driver_sql("BEGIN" if is_reading(connection) else "BEGIN IMMEDIATE")


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # pysqlite's own transaction handling is switched off so that BEGIN and SAVEPOINT are ours
    # (the recipe in SQLAlchemy's SQLite dialect documentation).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back on any exception.

    A refused action (Forbidden) is rolled back like any failure, and then its refusal is audited
    in a short transaction of its own: the trail must keep the attempt that the rollback undoes.
    Recording it here, after the rollback, rather than from a second connection while the action's
    transaction is still open, also keeps SQLite (one writer at a time) from waiting on itself.
    """
    try:
        # A plain Session, not ``session_factory(engine)``: each sessionmaker is a new Session
        # subclass, whose event dispatch SQLAlchemy builds again (about 0.3 ms a transaction).
        with Session(bind=engine, expire_on_commit=False) as session, session.begin():
            yield session
    except Forbidden as refused:
        _audit_refusal(engine, refused)
        raise


@contextmanager
def rehearsal(engine: Engine) -> Iterator[Session]:
    """A unit of work rolled back at the end: a dry run doing the real work, so its counts are exact."""
    with session_factory(engine)() as session:
        yield session
        session.rollback()


def autocommits(connection: Connection) -> bool:
    """Whether ``connection``'s statements run with no transaction around them (``one_statement``,
    ``read_only`` and a request's ``reading`` on PostgreSQL): there is then no snapshot to share."""
    return connection.get_execution_options().get("isolation_level") == _AUTOCOMMIT


def is_reading(connection: Connection) -> bool:
    """Whether ``connection`` is a ``reading`` unit's or a ``read_only`` one: nothing may be
    written through it (``reading`` rolls back at its end; ``read_only`` on PostgreSQL commits each
    statement as it runs, on SQLite rolls back)."""
    return bool(connection.get_execution_options().get(_READS_ONLY))


@contextmanager
def reading(engine: Engine, *, one_transaction: bool = True) -> Iterator[Session]:
    """A unit of work that only reads, and audits what it read: a profile shown, a search made.

    In ``transaction`` SQLite holds its one write lock from BEGIN to COMMIT, so a read that takes
    50 ms (a search over 100k names, a profile with its timeline) would make every other writer
    of every process wait 50 ms, and under load some of them seconds. Here the reads run in a
    deferred transaction (a snapshot, no lock); the audit rows they add stay pending (no
    autoflush) and are written afterwards in a short transaction of their own. If that write
    fails the caller gets the error and shows nothing, so nothing is read without its audit row.
    Anything else added, changed or deleted is a programming error, refused before it is written.

    ``one_transaction=False`` (a Slack request's reads): on PostgreSQL the statements run with no
    transaction around them (autocommit), as ``read_only``'s do. At READ COMMITTED each statement
    reads its own snapshot inside a transaction too, so they see the same rows; the BEGIN and
    ROLLBACK were two round trips of the seven in a `/crm find` (docs/PERFORMANCE.md, issue 13
    item 2). What needs its statements in one transaction (the morning job exports its snapshot
    to other connections) keeps the default. SQLite's deferred transaction costs no round trip.
    """
    bind = _reads_only(engine, autocommit=not one_transaction and engine.dialect.name == "postgresql")
    reader = Session(bind=bind, autoflush=False, expire_on_commit=False)
    try:
        with reader:
            try:
                yield reader
            finally:
                pending = list(reader.new)
                written = bool(reader.dirty or reader.deleted) or any(
                    not isinstance(o, AuditEvent) for o in pending
                )
                reader.expunge_all()
                reader.rollback()
    except Forbidden as refused:
        _audit_refusal(engine, refused)
        raise
    if written:
        raise RuntimeError("reading(): only audit rows may be added; use transaction() to write")
    if pending:
        with transaction(engine) as writer:
            writer.add_all(pending)


@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for a write of one statement (the inbox's insert), committed when it returns.

    On PostgreSQL the statement is a transaction of its own (autocommit): committed, and flushed to
    disk as a COMMIT would be, before its result comes back, without the BEGIN and COMMIT round trips
    around it. On SQLite it is ``transaction``'s kind (BEGIN IMMEDIATE, COMMIT). A second statement
    in the block would be a second transaction on PostgreSQL: one statement only.
    """
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            yield connection
        return
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level=_AUTOCOMMIT)


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A bare connection for a read that records nothing (an asker's role): reads only.

    Cheaper than ``reading`` (no session, no audit): on SQLite its transaction is deferred like
    ``reading``'s, so it never takes the write lock. On PostgreSQL it opens no transaction at all
    (autocommit): at READ COMMITTED each statement reads its own snapshot either way, and the
    BEGIN and ROLLBACK were two round trips around a one-statement read (every writer's asker).
    So a write through it would be kept on PostgreSQL and lost on SQLite: never write here (the
    interactions service's statements refuse such a connection: ``is_reading``).
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level=_AUTOCOMMIT)
        yield connection.execution_options(**{_READS_ONLY: True})


def _reads_only(engine: Engine, *, autocommit: bool = False) -> Engine:
    """``engine`` with the reads-only option (and autocommit), made once: each ``execution_options``
    is a new engine whose event dispatch SQLAlchemy builds again."""
    name = f"{_READS_ONLY}:autocommit" if autocommit else _READS_ONLY
    reader: Engine | None = engine.__dict__.get(name)
    if reader is None:
        options: dict[str, Any] = {_READS_ONLY: True}
        if autocommit:
            options["isolation_level"] = _AUTOCOMMIT
        reader = engine.__dict__[name] = engine.execution_options(**options)
    return reader


def _audit_refusal(engine: Engine, refused: Forbidden) -> None:
    with Session(bind=engine, expire_on_commit=False) as session, session.begin():
        record(
            session,
            actor=refused.actor,
            action=refused.action,
            customer_id=refused.customer_id,
            allowed=False,
        )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["database_url"] = url
    return config


def head_revision() -> str:
    """The newest migration this crm-bot ships; without one it cannot tell a store is current."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise ConfigError(
            f"no database migrations found in {MIGRATIONS_DIR}: this crm-bot installation is incomplete; "
            "reinstall it with `pip install crm-bot`"
        )
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(
            f"cannot open the database ({type(exc.orig).__name__}): "
            "check DATABASE_URL and that the database server is running"
        ) from None


def upgrade(engine: Engine) -> None:
    """Apply every pending migration. Alembic is the only maker of schema."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# Schemas on which `crm-bot customers merge` still runs: migration 0003 refuses to upgrade a store
# whose customers share an e-mail or phone until they are merged, so merging must work just before it;
# 0004 the same for one phone written two ways ("090-…" and "+81 90-…"), one key in E.164.
MERGEABLE_REVISIONS = frozenset({"0002", "0003"})


def ensure_current(engine: Engine, *, auto_upgrade: bool, also_accept: frozenset[str] = frozenset()) -> None:
    """Refuse to work on a schema of another version, unless told to bring it up to date.

    A schema in ``also_accept`` is worked on when it cannot be upgraded (yet): a migration refused.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current in also_accept:
        if auto_upgrade:
            with suppress(SchemaOutOfDate):
                upgrade(engine)
        return
    if auto_upgrade:
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'nothing'} but this crm-bot needs {head}: "
        "run `crm-bot db upgrade` first"
    )
