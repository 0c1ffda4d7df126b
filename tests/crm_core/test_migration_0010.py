"""Migration 0010: the names stamp row says which change set the stamp, and the stamp before it, so
a search can apply that change without reading the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Row, delete, func, insert, inspect, select, text, update

from crm_core.models import Customer, CustomerNameChange, CustomerNamesStamp
from crm_core.store import upgrade
from tests.crm_core.test_migrations import _migrate
from tests.crm_core.test_unique_contact_keys import stores_of

_ROW = select(
    CustomerNamesStamp.stamp,
    CustomerNamesStamp.previous_stamp,
    CustomerNamesStamp.last_version,
    CustomerNamesStamp.last_customer_id,
    CustomerNamesStamp.last_name_key,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store of the release before, holding a customer."""
    stores = stores_of(request.param, tmp_path)
    engine = next(stores)
    _migrate(engine, "0009")
    _change(engine, insert(Customer).values(external_id="C-OLD", name="Old Timer", name_key="old timer"))
    yield engine
    next(stores, None)


def _change(engine: Engine, statement: Any) -> None:
    with engine.begin() as connection:
        connection.execute(statement)


def _stamp_row(engine: Engine) -> Row[Any]:
    with engine.connect() as connection:
        return connection.execute(_ROW).one()


def _id(engine: Engine, external_id: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(Customer.id).where(Customer.external_id == external_id)) or 0


def _newest_logged(engine: Engine) -> Row[Any]:
    newest = select(CustomerNameChange.version, CustomerNameChange.customer_id, CustomerNameChange.stamp)
    with engine.connect() as connection:
        return connection.execute(newest.order_by(CustomerNameChange.version.desc()).limit(1)).one()


def _assert_describes(engine: Engine, before: Row[Any], customer_id: int | None, key: str | None) -> Row[Any]:
    """The row after a change: a new stamp, the one before it, the change as logged, the key now."""
    row = _stamp_row(engine)
    logged = _newest_logged(engine)
    assert row.stamp != before.stamp
    assert row.previous_stamp == before.stamp
    assert (row.last_version, row.stamp) == (logged.version, logged.stamp)
    assert (row.last_customer_id, row.last_name_key) == (customer_id, key)
    return row


def test_the_stamp_row_describes_each_change_to_a_name(store_at_0009: Engine) -> None:
    upgrade(store_at_0009)
    row = _stamp_row(store_at_0009)
    assert (row.previous_stamp, row.last_version, row.last_customer_id) == (None, None, None)
    _change(store_at_0009, insert(Customer).values(external_id="C-1", name="Acme", name_key="acme"))
    acme = _id(store_at_0009, "C-1")
    row = _assert_describes(store_at_0009, row, acme, "acme")
    renamed = update(Customer).where(Customer.id == acme)
    _change(store_at_0009, renamed.values(name="Acme Trading", name_key="acme trading"))
    row = _assert_describes(store_at_0009, row, acme, "acme trading")
    _change(store_at_0009, renamed.values(company="Acme Holdings"))  # no name change: nothing moves
    assert _stamp_row(store_at_0009) == row
    _change(store_at_0009, delete(Customer).where(Customer.id == acme))
    _assert_describes(store_at_0009, row, acme, None)


def test_one_statement_that_changes_several_names_is_never_taken_for_one_change(
    store_at_0009: Engine,
) -> None:
    """PostgreSQL's trigger runs once for the statement and names no customer; SQLite's run per row,
    so the row describes the last customer, after a stamp that no reader outside held."""
    upgrade(store_at_0009)
    before = _stamp_row(store_at_0009)
    rows = [{"external_id": f"C-{n}", "name": f"Many {n}", "name_key": f"many {n}"} for n in (1, 2)]
    _change(store_at_0009, insert(Customer).values(rows))  # one statement, as an import's
    row = _stamp_row(store_at_0009)
    if store_at_0009.dialect.name == "postgresql":
        assert row.previous_stamp == before.stamp
        assert (row.last_customer_id, row.last_name_key) == (None, None)
    else:
        assert row.previous_stamp != before.stamp
        assert (row.last_customer_id, row.last_name_key) == (_id(store_at_0009, "C-2"), "many 2")


def test_truncate_leaves_no_change_to_apply(store_at_0009: Engine) -> None:
    """PostgreSQL only (TRUNCATE writes no log row; SQLite has no TRUNCATE)."""
    if store_at_0009.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    upgrade(store_at_0009)
    _change(store_at_0009, insert(Customer).values(external_id="C-1", name="Acme", name_key="acme"))
    before = _stamp_row(store_at_0009)
    _change(store_at_0009, text("TRUNCATE customers CASCADE"))
    row = _stamp_row(store_at_0009)
    assert row.stamp != before.stamp
    assert (row.previous_stamp, row.last_version, row.last_customer_id, row.last_name_key) == (None,) * 4


def test_0010_downgrades_and_upgrades_again(store_at_0009: Engine) -> None:
    upgrade(store_at_0009)
    _migrate(store_at_0009, "0009", down=True)
    columns = {column["name"] for column in inspect(store_at_0009).get_columns("customer_names_stamp")}
    assert columns == {"id", "stamp"}
    with store_at_0009.connect() as connection:
        logged = connection.scalar(select(func.count()).select_from(CustomerNameChange))
    _change(store_at_0009, insert(Customer).values(external_id="C-9", name="Later", name_key="later"))
    with store_at_0009.connect() as connection:  # 0009's triggers log it as before
        assert connection.scalar(select(func.count()).select_from(CustomerNameChange)) == (logged or 0) + 1
    upgrade(store_at_0009)
    before, later = _stamp_row(store_at_0009), _id(store_at_0009, "C-9")
    _change(store_at_0009, delete(Customer).where(Customer.id == later))
    _assert_describes(store_at_0009, before, later, None)
