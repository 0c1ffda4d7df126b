"""Migration 0002 on a store that already holds customers, and the triggers that keep the name stamp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, insert, inspect, select, text, update

from crm_core.identity.search import resolve_customer
from crm_core.models import Base, Customer, CustomerNamesStamp
from crm_core.store import alembic_config, current_revision, head_revision, make_engine, transaction, upgrade
from tests.factories import TEST_ACTOR


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture
def store_at_0001(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'shipped.sqlite3'}")
    _migrate(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            insert(Customer).values(external_id="C-1", name="Yamada Shoji", name_key="yamada shoji")
        )
    yield engine
    engine.dispose()


def _stamp(engine: Engine) -> int | None:
    with engine.connect() as connection:
        return connection.scalar(select(CustomerNamesStamp.stamp))


def test_a_shipped_store_upgrades_and_finds_its_customers(store_at_0001: Engine) -> None:
    upgrade(store_at_0001)
    assert current_revision(store_at_0001) == head_revision()
    with store_at_0001.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with transaction(store_at_0001) as session:
        assert resolve_customer(session, actor=TEST_ACTOR, query="Yamda Shoji").external_id == "C-1"


def test_the_stamp_moves_with_every_change_to_names_and_only_then(store_at_0001: Engine) -> None:
    upgrade(store_at_0001)
    changes = {
        "insert": insert(Customer).values(external_id="C-2", name="Acme", name_key="acme"),
        "rename": update(Customer).where(Customer.external_id == "C-2").values(name_key="acme trading"),
        "delete": delete(Customer).where(Customer.external_id == "C-2"),
    }
    for change, statement in changes.items():
        before = _stamp(store_at_0001)
        with store_at_0001.begin() as connection:
            connection.execute(statement)
        assert _stamp(store_at_0001) != before, change
    before = _stamp(store_at_0001)
    with store_at_0001.begin() as connection:
        connection.execute(update(Customer).values(company="Yamada Holdings"))
    assert _stamp(store_at_0001) == before


def test_0002_downgrades_to_the_shipped_schema_and_upgrades_again(store_at_0001: Engine) -> None:
    upgrade(store_at_0001)
    _migrate(store_at_0001, "0001", down=True)
    assert not inspect(store_at_0001).has_table("customer_names_stamp")
    with store_at_0001.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")) == 0
        connection.execute(insert(Customer).values(external_id="C-3", name="Globex", name_key="globex"))
        connection.commit()
    upgrade(store_at_0001)
    assert _stamp(store_at_0001) == 0


def test_an_installation_without_migrations_refuses_every_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed without its migrations, crm-bot used to take an empty store as up to date."""
    import crm_core.store as store
    from crm_core.errors import ConfigError

    (tmp_path / "versions").mkdir()
    monkeypatch.setattr(store, "MIGRATIONS_DIR", str(tmp_path))
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(ConfigError, match="no database migrations found"):
        store.ensure_current(engine, auto_upgrade=False)
    engine.dispose()
