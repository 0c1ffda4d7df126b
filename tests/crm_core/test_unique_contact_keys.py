"""One customer per e-mail and per phone key, kept by the database (migration 0003) whoever writes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.customers.service import create_customer
from crm_core.errors import DuplicateCustomer, SchemaOutOfDate
from crm_core.models import Customer
from crm_core.store import alembic_config, current_revision, make_engine, transaction
from tests.conftest import POSTGRES_ENV
from tests.factories import TEST_ACTOR
from tests.races import needs_postgres, race

CONTACTS = {"email": "buyer@acme.example", "phone": "03-1234-5678"}


def create(name: str, **contact: str) -> Callable[[Session], Any]:
    return lambda session: create_customer(session, actor=TEST_ACTOR, name=name, **contact)


@needs_postgres
@pytest.mark.parametrize("detail", ["email", "phone"])
def test_two_creates_at_once_with_one_contact_make_one_customer(engine: Engine, detail: str) -> None:
    contact = {detail: CONTACTS[detail]}
    second = race(engine, create("Acme Inc.", **contact), create("ACME", **contact))
    with pytest.raises(DuplicateCustomer) as refused:
        second.outcome()
    assert refused.value.key == "customer.duplicate"
    with transaction(engine) as session:
        assert list(session.scalars(select(Customer.name))) == ["Acme Inc."]
        assert refused.value.existing_external_id == session.scalar(select(Customer.external_id))


@pytest.mark.parametrize("column", ["email", "phone_key"])
def test_the_database_refuses_a_second_customer_with_a_key_whoever_writes(
    engine: Engine, column: str
) -> None:
    def row(number: int) -> dict[str, str]:
        return {"external_id": f"C-{number}", "name": "Acme", "name_key": "acme", column: "0312345678"}

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(Customer), [row(1), row(2)])


def _migrate(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _postgres_store() -> Iterator[Engine]:
    """A schema of its own in the test database, so the shared one keeps its head revision."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url.startswith("postgresql"):
        pytest.skip(f"needs PostgreSQL ({POSTGRES_ENV}) for the PostgreSQL side of migration 0003")
    with make_engine(url).begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_0003 CASCADE"))
        connection.execute(text("CREATE SCHEMA migration_0003"))
    # In the URL, so that the CLI run on DATABASE_URL works in this schema too.
    engine = make_engine(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3Dmigration_0003")
    yield engine
    engine.dispose()
    with make_engine(url).begin() as connection:
        connection.execute(text("DROP SCHEMA migration_0003 CASCADE"))


def stores_of(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty store of ``kind`` ("sqlite": a file under ``tmp_path``; "postgresql": a schema of its
    own), then, when asked for the next, the PostgreSQL schema dropped."""
    if kind == "sqlite":
        yield make_engine(f"sqlite:///{tmp_path / 'shipped.sqlite3'}")
    else:
        yield from _postgres_store()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store made by the previous release, holding customers who share contact keys."""
    stores = stores_of(request.param, tmp_path)
    engine = next(stores)
    _migrate(engine, "0002")
    people = [
        ("C-1", "alice@acme.example", "0312345678"),
        ("C-2", "alice\u200b@acme.example", None),  # hidden behind a zero-width space
        ("C-3", None, "0312345678"),
        ("C-4", "bob@acme.example", ""),
        ("C-5", None, ""),
        ("C-6", None, None),  # erased customers hold no keys
        ("C-7", None, None),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(Customer),
            [
                {"external_id": ext, "name": ext, "name_key": ext.lower(), "email": email, "phone_key": phone}
                for ext, email, phone in people
            ],
        )
    yield engine
    next(stores, None)


def test_0003_lists_what_breaks_the_rule_and_changes_nothing(store_at_0002: Engine) -> None:
    with pytest.raises(SchemaOutOfDate) as refused:
        _migrate(store_at_0002, "0003")
    message = refused.value.message
    assert "e-mail 'alice@acme.example' is held by C-1, C-2" in message
    assert "phone '0312345678' is held by C-1, C-3" in message
    assert "crm-bot customers merge" in message and "crm-bot db upgrade" in message
    assert "\n" not in message  # one line on stderr
    assert current_revision(store_at_0002) == "0002"
    with store_at_0002.connect() as connection:
        assert connection.scalar(select(Customer.email).where(Customer.external_id == "C-2")) == (
            "alice\u200b@acme.example"
        )


def test_after_the_merges_0003_makes_the_keys_unique(
    store_at_0002: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", store_at_0002.url.render_as_string(hide_password=False))
    for other in ("C-2", "C-3"):
        try:
            main(["customers", "merge", "C-1", other])
        except SystemExit as exit_:
            pytest.fail(f"merge exited {exit_.code}: {capsys.readouterr().err}")
        assert f"merged {other} into C-1" in capsys.readouterr().out
    _migrate(store_at_0002, "0003")
    assert current_revision(store_at_0002) == "0003"
    unique = {index["name"]: index["unique"] for index in inspect(store_at_0002).get_indexes("customers")}
    assert (unique["ix_customers_email"], unique["ix_customers_phone_key"]) == (True, True)
    with store_at_0002.connect() as connection:
        keys = connection.execute(select(Customer.external_id, Customer.email, Customer.phone_key)).all()
    assert sorted(keys) == [
        ("C-1", "alice@acme.example", "0312345678"),
        ("C-4", "bob@acme.example", None),
        ("C-5", None, None),
        ("C-6", None, None),
        ("C-7", None, None),
    ]
