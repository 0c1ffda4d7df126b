"""The end-to-end fixtures of ``tests/bot``, on a store of the drills' own.

The drills hammer the store (a thousand deliveries, killed processes, concurrent writers); on
SQLite they get a fresh file instead of the one the rest of the suite has vacuumed and scrubbed,
so that a drill's outcome depends on what it does, not on what ran before it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from crm_core.store import make_engine, upgrade
from tests.bot.conftest import clock, listeners, sender, server, settings, slack  # noqa: F401
from tests.conftest import POSTGRES_ENV, _postgres_engine


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get(POSTGRES_ENV) or f"sqlite:///{tmp_path_factory.mktemp('drills') / 'drills.sqlite3'}"


@pytest.fixture(scope="session")
def _migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = (
        _postgres_engine(database_url) if database_url.startswith("postgresql") else make_engine(database_url)
    )
    upgrade(engine)
    yield engine
    engine.dispose()
