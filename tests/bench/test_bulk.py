"""The benchmark's stores, written in bulk (bench/bulk.py), hold what the import pipeline writes.

Both ways write the same data set (two blocks, so the block machinery is covered too) into stores of
the dialect under test; every table's rows must then be equal, but for what legitimately differs
(ids and the change log's numbers, replaced by the external ids they stand for; creation times; the
random stamps), and so must the schemas (the bulk writer drops and remakes indexes on PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import JSON, Engine, text

from bench.dataset import (
    ACTOR,
    add_team,
    bench_blocks,
    bench_data,
    prepare_store,
    reset_store,
    store_engine,
)
from bench.import_bench import NOW
from crm_core.demo.generator import DemoData
from crm_core.demo.loader import write_demo_data
from crm_core.models import Base
from crm_core.store import transaction, upgrade

CUSTOMERS, BLOCK = 10_000, 5_000
# Columns whose values differ between two writes of the same data: ids, times of writing, stamps.
_WRITTEN_AT = {"created_at", "updated_at"}
_DIFFERING = {
    "audit_events": {"occurred_at"},
    "customer_name_changes": {"version", "stamp"},
    # And the last change the stamp row names: one statement's customer, or none after a COPY.
    "customer_names_stamp": {"stamp", "previous_stamp", "last_version", "last_customer_id", "last_name_key"},
}
_CUSTOMER_REFERENCES = {"customer_id"}


@pytest.fixture
def store_urls(engine: Engine, tmp_path: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two stores of the dialect under test (PostgreSQL: two databases beside the test's)."""
    if engine.dialect.name != "postgresql":
        yield f"sqlite:///{tmp_path}/pipeline.sqlite3", f"sqlite:///{tmp_path}/bulk.sqlite3"
        return
    base = engine.url
    names = (f"{base.database}_bulk_pipeline", f"{base.database}_bulk")
    yield tuple(base.set(database=name).render_as_string(hide_password=False) for name in names)  # type: ignore[misc]
    server = engine.url.set(database="postgres").render_as_string(hide_password=False)
    with store_engine(server) as postgres, postgres.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in names:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_bulk_store_holds_what_the_import_pipeline_writes(store_urls: tuple[str, str]) -> None:
    pipeline_url, bulk_url = store_urls
    blocks = list(bench_blocks(CUSTOMERS, block=BLOCK))
    with store_engine(pipeline_url) as pipeline:
        reset_store(pipeline)
        upgrade(pipeline)
        with transaction(pipeline) as session:
            report = write_demo_data(session, data=_joined(blocks), actor=ACTOR, now=NOW)
            add_team(session)
        assert not any(imported.rejected for imported in report.imports)
        expected, expected_schema = _rows(pipeline), _schema(pipeline)

    stored = prepare_store(bulk_url, CUSTOMERS, block=BLOCK, log=False)

    assert (stored.customers, stored.interactions) == (CUSTOMERS, 10 * CUSTOMERS)
    with store_engine(bulk_url) as bulk:
        written, schema = _rows(bulk), _schema(bulk)
        _assert_names_stamp_current(bulk)
    assert schema == expected_schema
    assert written.keys() == expected.keys()
    for table, rows in expected.items():
        assert written[table] == rows, table


def test_blocks_keep_ids_emails_and_phones_apart() -> None:
    first, second = bench_blocks(2 * BLOCK, block=BLOCK)

    assert first.customers.equals(bench_data(BLOCK).customers)
    customers = pd.concat([first.customers, second.customers])
    for column in ("external_id", "email", "phone"):
        given = customers[column][customers[column] != ""]
        assert given.is_unique, column
    assert pd.concat([first.purchases, second.purchases])["external_id"].is_unique
    # Renumbered, not dropped: the second block keeps as many addresses as it was generated with.
    assert second.customers["email"].ne("").sum() == bench_data(BLOCK, seed=3).customers["email"].ne("").sum()


def _joined(blocks: list[DemoData]) -> DemoData:
    frames = [[getattr(block, name) for block in blocks] for name in DemoData.__annotations__]
    return DemoData(*(pd.concat(parts, ignore_index=True) for parts in frames))


def _rows(engine: Engine) -> dict[str, Counter[tuple[object, ...]]]:
    """Every table's rows as values the driver returns, ids of customers as their external ids."""
    rows: dict[str, Counter[tuple[object, ...]]] = {}
    with engine.connect() as connection:
        found_ids = connection.exec_driver_sql("SELECT id, external_id FROM customers").all()
        external_id: dict[object, object] = {row[0]: row[1] for row in found_ids}
        for table in Base.metadata.sorted_tables:
            ignored = _WRITTEN_AT | _DIFFERING.get(table.name, set())
            columns = [
                c for c in table.columns if c.name not in ignored and not (c.primary_key and c.name == "id")
            ]
            selected = ", ".join(
                f"CAST({c.name} AS TEXT)"
                if isinstance(c.type, JSON) and engine.dialect.name == "postgresql"
                else c.name
                for c in columns
            )
            found = connection.exec_driver_sql(f"SELECT {selected or '1'} FROM {table.name}").all()
            references = [c.name in _CUSTOMER_REFERENCES for c in columns] or [False]
            rows[table.name] = Counter(
                tuple(
                    external_id.get(value, value) if reference else value
                    for value, reference in zip(row, references, strict=True)
                )
                for row in found
            )
    return rows


def _schema(engine: Engine) -> set[tuple[object, ...]]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            indexes = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
            constraints = connection.exec_driver_sql(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace"
            )
            return {*map(tuple, indexes), *map(tuple, constraints)}
        return set(
            map(tuple, connection.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        )


def _assert_names_stamp_current(engine: Engine) -> None:
    """The stamp, and the change its row names, are the newest change's, so a name index built now
    follows later changes."""
    with engine.connect() as connection:
        stamp, version = connection.execute(
            text("SELECT stamp, last_version FROM customer_names_stamp")
        ).one()
        newest = connection.execute(
            text("SELECT stamp, version FROM customer_name_changes ORDER BY version DESC LIMIT 1")
        ).one()
    assert stamp is not None
    assert (stamp, version) == tuple(newest)
