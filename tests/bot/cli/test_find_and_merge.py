"""`crm-bot find`, `customers add|merge` and `db` as a user runs them: output, exit status, stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from crm_core.identity import phones
from crm_core.store import head_revision, make_engine
from tests.conftest import CliResult

Crm = Callable[..., CliResult]


def test_find_prints_best_match_first_with_external_id(crm: Crm) -> None:
    assert crm("customers", "add", "株式会社アクメ", "--external-id", "C-1").exit_code == 0
    assert crm("customers", "add", "Acme Trading", "--external-id", "C-2").exit_code == 0
    result = crm("find", "ｱｸﾒ")
    assert result.exit_code == 0
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith("C-1\t株式会社アクメ")


def test_find_with_no_match_says_so_plainly(crm: Crm) -> None:
    result = crm("find", "nobody-like-this")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no customer matches 'nobody-like-this'"


def test_duplicate_contact_is_one_line_on_stderr_and_nothing_written(crm: Crm, engine: Engine) -> None:
    crm("customers", "add", "Taro", "--email", "taro@example.jp", "--external-id", "T1")
    result = crm("customers", "add", "Taro Y", "--email", "TARO@example.jp")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("crm-bot: ") and "T1" in result.stderr
    assert "Traceback" not in result.stderr
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from customers")).scalar() == 1


def test_likely_duplicate_is_warned_about(crm: Crm) -> None:
    crm("customers", "add", "株式会社アクメ", "--external-id", "C-1")
    result = crm("customers", "add", "アクメ")
    assert result.exit_code == 0
    assert "looks like C-1" in result.stderr


def test_merge_reports_what_moved(crm: Crm) -> None:
    crm("customers", "add", "Acme", "--external-id", "KEEP")
    crm("customers", "add", "ACME Inc.", "--external-id", "OTHER", "--email", "a@acme.test")
    result = crm("customers", "merge", "KEEP", "OTHER")
    assert result.exit_code == 0
    assert "merged OTHER into KEEP" in result.stdout
    assert crm("find", "a@acme.test").stdout.startswith("KEEP\t")


def test_merge_of_unknown_id_fails_cleanly(crm: Crm) -> None:
    result = crm("customers", "merge", "KEEP", "NOPE")
    assert result.exit_code == 2
    assert "No customer has the external id 'KEEP'" in result.stderr


def test_out_of_date_schema_is_refused_with_the_command_to_run(crm: Crm, engine: Engine) -> None:
    head = head_revision()
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = 'old'"))
    try:
        result = crm("find", "x")
        assert result.exit_code == 2
        assert "run `crm-bot db upgrade`" in result.stderr
    finally:
        with engine.begin() as connection:
            connection.execute(text("update alembic_version set version_num = :head"), {"head": head})


def test_db_upgrade_makes_a_new_store_and_is_idempotent(
    crm: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert "upgraded from empty" in crm("db", "upgrade").stdout
    assert "already up to date" in crm("db", "upgrade").stdout
    with make_engine(url).connect() as connection:
        assert connection.execute(text("select count(*) from customers")).scalar() == 0


def test_default_sqlite_store_upgrades_itself(
    crm: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    result = crm("find", "anyone")
    assert result.exit_code == 0
    assert (tmp_path / "crm.sqlite3").exists()


def test_unreachable_database_is_one_clear_line(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = crm("find", "x")
    assert result.exit_code == 2
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_database_url_names_the_variable(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "not a url")
    result = crm("find", "x")
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("newguy@acme.com", "no customer has the e-mail address “newguy@acme.com”"),
        ("090-9999-8888", "no customer has the phone number “090-9999-8888”"),
    ],
)
def test_find_of_an_email_or_phone_nobody_has_says_how_to_add_them(crm: Crm, typed: str, said: str) -> None:
    """Issue 11.4: no fuzzy names for a contact detail; the way to add the customer instead."""
    crm("customers", "add", "Acme Inc.", "--email", "info@acme.com")
    crm("customers", "add", "Acme Trading")
    result = crm("find", typed)
    assert result.exit_code == 0
    assert result.stdout.startswith(said)
    assert f"crm-bot customers add NAME --{'email' if '@' in typed else 'phone'} {typed}" in result.stdout
    assert "Acme" not in result.stdout


def test_find_reads_local_numbers_in_crm_phone_region(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11.5: the region comes from the settings; the CLI applies it before keying any phone."""
    monkeypatch.setattr(phones, "_region", phones.DEFAULT_PHONE_REGION)  # restored after the test
    monkeypatch.setenv("CRM_PHONE_REGION", "US")
    crm("customers", "add", "New Yorker", "--phone", "(212) 555-0100", "--external-id", "NY")
    assert crm("find", "+1 212 555 0100").stdout.startswith("NY\tNew Yorker\t100\tphone")
