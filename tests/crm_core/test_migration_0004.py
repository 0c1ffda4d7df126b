"""Migration 0004 re-keys stored phones in E.164, on a store that already holds customers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select

from crm_core.errors import SchemaOutOfDate
from crm_core.identity.search import search_customers
from crm_core.models import Customer, CustomerNamesStamp
from crm_core.store import alembic_config, current_revision, head_revision, make_engine, transaction
from tests.crm_core.test_unique_contact_keys import _postgres_store


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _add(engine: Engine, external_id: str, phone: str | None, old_key: str | None) -> None:
    """A customer as the code before 0004 stored it: the phone key was its digits."""
    with engine.begin() as connection:
        connection.execute(
            insert(Customer).values(
                external_id=external_id,
                name=f"Name {external_id}",
                name_key=f"name {external_id}".lower(),
                phone=phone,
                phone_key=old_key,
            )
        )


def _keys(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Customer.external_id, Customer.phone_key)).all())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        stores: Iterator[Engine] = iter([make_engine(f"sqlite:///{tmp_path / 'at-0003.sqlite3'}")])
    else:
        stores = _postgres_store()  # a schema of its own, so the shared one keeps its head revision
    engine = next(stores)
    _migrate(engine, "0003")
    _add(engine, "MOBILE", "090-1111-2222", "09011112222")
    _add(engine, "OFFICE", "+81 3-1234-5678", "81312345678")
    _add(engine, "NEW-YORK", "+1 212 555 0100", "12125550100")
    _add(engine, "ODD", "+999 1234567", "9991234567")  # no such country code: the digits stay
    _add(engine, "NO-PHONE", None, None)
    yield engine
    engine.dispose()
    next(stores, None)


def test_stored_phone_keys_become_e164_and_every_way_of_typing_finds_them(store_at_0003: Engine) -> None:
    _migrate(store_at_0003, "0004")
    assert _keys(store_at_0003) == {
        "MOBILE": "+819011112222",
        "OFFICE": "+81312345678",
        "NEW-YORK": "+12125550100",
        "ODD": "9991234567",
        "NO-PHONE": None,
    }
    with transaction(store_at_0003) as session:
        for typed in ("+81 90-1111-2222", "090 1111 2222", "(090)1111-2222", "０９０－１１１１－２２２２"):
            assert [m.customer.external_id for m in search_customers(session, query=typed)] == ["MOBILE"], (
                typed
            )
        assert [m.customer.external_id for m in search_customers(session, query="03-1234-5678")] == ["OFFICE"]


def test_the_name_stamp_triggers_survive_the_re_keying(store_at_0003: Engine) -> None:
    _migrate(store_at_0003, "0004")
    assert not inspect(store_at_0003).has_table("phone_keys_0004")
    with store_at_0003.connect() as connection:
        before = connection.scalar(select(CustomerNamesStamp.stamp))
    _add(store_at_0003, "LATER", None, None)
    with store_at_0003.connect() as connection:
        assert connection.scalar(select(CustomerNamesStamp.stamp)) != before


def test_one_phone_written_two_ways_refuses_the_upgrade_naming_whom_to_merge(store_at_0003: Engine) -> None:
    _add(store_at_0003, "MOBILE-AGAIN", "+81 90 1111 2222", "819011112222")
    before = _keys(store_at_0003)
    with pytest.raises(SchemaOutOfDate) as refused:
        _migrate(store_at_0003, "0004")
    message = refused.value.message
    assert "phone +819011112222 would be held by MOBILE ('090-1111-2222'), MOBILE-AGAIN" in message
    assert "crm-bot customers merge" in message and "Nothing was changed" in message
    assert current_revision(store_at_0003) == "0003"
    assert _keys(store_at_0003) == before
    assert not inspect(store_at_0003).has_table("phone_keys_0004")


def test_0004_downgrades_to_digit_keys(store_at_0003: Engine) -> None:
    before = _keys(store_at_0003)
    _migrate(store_at_0003, "0004")
    _migrate(store_at_0003, "0003", down=True)
    assert _keys(store_at_0003) == before


def test_the_cli_lists_the_clash_merges_on_the_old_schema_then_upgrades(
    store_at_0003: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    _add(store_at_0003, "MOBILE-AGAIN", "+81 90 1111 2222", "819011112222")
    monkeypatch.setenv("DATABASE_URL", store_at_0003.url.render_as_string(hide_password=False))
    codes = []
    for args in (["db", "upgrade"], ["customers", "merge", "MOBILE", "MOBILE-AGAIN"], ["db", "upgrade"]):
        try:
            main(args)
            codes.append(0)
        except SystemExit as exit_:
            codes.append(exit_.code)
    assert codes == [2, 0, 0]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MOBILE ('090-1111-2222'), MOBILE-AGAIN ('+81 90 1111 2222')" in err
    assert current_revision(store_at_0003) == head_revision()
    assert _keys(store_at_0003)["MOBILE"] == "+819011112222"
