"""CRM_DB_POOL_SIZE: how many connections each process keeps open to the store (README, "Running several
replicas": replicas x (workers + 1) x (size + 5) must fit PostgreSQL's max_connections)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.cli.app import CliContext
from crm_core.config import DEFAULT_DB_POOL_SIZE, load_settings
from crm_core.errors import ConfigError
from crm_core.store import POOL_OVERFLOW
from tests.conftest import CliResult

Crm = Callable[..., CliResult]


def test_the_engine_keeps_as_many_connections_as_the_setting_says(database_url: str) -> None:
    settings = load_settings({"DATABASE_URL": database_url, "CRM_DB_POOL_SIZE": " 3 "})
    engine = CliContext(settings=settings, debug=False).engine(check_schema=False)
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_two_replicas_with_two_workers_fit_postgres_default_max_connections() -> None:
    """The README's arithmetic for the default: 97 connections are left to non-superusers."""
    assert load_settings({}).db_pool_size == DEFAULT_DB_POOL_SIZE
    replicas, processes, aside = 2, 2 + 1, 1
    assert replicas * processes * (DEFAULT_DB_POOL_SIZE + POOL_OVERFLOW + aside) <= 97


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "101", "10 connections"])
def test_a_bad_pool_size_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"CRM_DB_POOL_SIZE": value})
    message = str(refused.value)
    assert message.startswith(f"CRM_DB_POOL_SIZE={value!r} is not a number of connections")
    assert "\n" not in message


def test_the_command_line_says_so_in_one_line(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DB_POOL_SIZE", "lots")
    result = crm("db", "status")
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "crm-bot: CRM_DB_POOL_SIZE='lots' is not a number of connections: "
        "use a whole number from 1 to 100, such as 10"
    ]
