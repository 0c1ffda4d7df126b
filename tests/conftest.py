"""Shared fixtures: a real store (SQLite by default, PostgreSQL with CRM_TEST_DATABASE_URL) and the CLI.

The schema is made by the Alembic migrations, as in production. ``session`` rolls back per test
(SQLAlchemy's "join a session into an external transaction" recipe); ``engine`` lets a test commit
through the real code paths (CLI, Slack app) and empties every table afterwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crm_core.models import Base
from crm_core.store import make_engine, upgrade

POSTGRES_ENV = "CRM_TEST_DATABASE_URL"


def _postgres_engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except OperationalError as exc:
        reason = f"PostgreSQL at {POSTGRES_ENV} is unreachable ({type(exc.orig).__name__})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL suite", pytrace=False)
        pytest.skip(reason)  # postgres unreachable outside CI: those tests skip, saying why
    return engine


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = (
        _postgres_engine(database_url) if database_url.startswith("postgresql") else make_engine(database_url)
    )
    upgrade(engine)
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def engine(_migrated_engine: Engine) -> Iterator[Engine]:
    """A migrated store that tests may commit to; emptied after each test."""
    empty_all_tables(_migrated_engine)
    yield _migrated_engine
    empty_all_tables(_migrated_engine)


@pytest.fixture
def session(_migrated_engine: Engine) -> Iterator[Session]:
    """A session whose every commit is undone after the test."""
    with _migrated_engine.connect() as connection:
        outer = connection.begin()
        db_session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield db_session
        finally:
            db_session.close()
            outer.rollback()


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def crm(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):  # type: ignore[no-untyped-def]
    """Run ``crm-bot ARGS`` in-process against the test store, as a user would from a shell."""
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


TIERS = {
    "unit": "pure code: no store, no server (select with -m unit)",
    "integration": "a real store, SQLite or PostgreSQL, through the services or the CLI",
    "end_to_end": "the served app over signed HTTP or Socket Mode, or real crm-bot processes",
}


def pytest_configure(config: pytest.Config) -> None:
    for tier, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {meaning}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's tier, from what it uses: ``pytest -m unit`` runs in seconds without a database."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("end_to_end"):  # a module that starts crm-bot processes says so
            continue
        if "server" in used or "reliability" in item.path.parts:
            item.add_marker("end_to_end")
        elif used & {"engine", "session", "crm", "_migrated_engine"}:
            item.add_marker("integration")
        else:
            item.add_marker("unit")


def pytest_report_header() -> str:
    url = os.environ.get(POSTGRES_ENV)
    store = f"PostgreSQL ({url})" if url else "SQLite (a temporary file)"
    return f"crm-bot store: {store}; python {sys.version.split()[0]}"
