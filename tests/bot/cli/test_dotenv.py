"""`.env` is read from the directory crm-bot runs in, as the README says, not from the installed code's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from crm_core.store import transaction
from tests.conftest import CliResult
from tests.factories import customer

Crm = Callable[..., CliResult]


def test_a_dotenv_in_the_working_directory_names_the_store(
    crm: Crm, engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    # The crm fixture runs in a fresh temporary directory; only its .env says where the store is.
    # delenv also makes monkeypatch restore DATABASE_URL after the test, whatever .env set.
    monkeypatch.delenv("DATABASE_URL")
    Path(".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    result = crm("find", "Acme")
    assert result.exit_code == 0, result.stderr
    assert "Acme Inc." in result.stdout
    assert not Path("crm.sqlite3").exists()  # the default store was not made instead


def test_the_environment_wins_over_dotenv(crm: Crm, engine: Engine, database_url: str) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    Path(".env").write_text("DATABASE_URL=sqlite:///elsewhere.sqlite3\n", encoding="utf-8")
    result = crm("find", "Acme")
    assert result.exit_code == 0, result.stderr
    assert "Acme Inc." in result.stdout
    assert not Path("elsewhere.sqlite3").exists()
