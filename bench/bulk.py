"""Writing the benchmark's stores in bulk: the rows the import pipeline would write, in minutes.

``write_demo_data`` (``crm_core.demo.loader``) imports the demo data the way users' files are
imported: checks row by row in Python, then ``INSERT … ON CONFLICT DO NOTHING`` in chunks, which on
PostgreSQL is one statement (and one trigger call) per row. At 1M customers that took 48 minutes on
SQLite and did not finish on PostgreSQL. The benchmarks need those rows, not that path (the import
has a benchmark of its own), so here they are written directly:

- every derived column comes from the functions the import calls, once per distinct value:
  ``clean_contact`` (names and their keys, e-mails, E.164 phone keys), the interaction validators,
  ``iso_texts`` and ``content_keys`` (idempotency keys), ``parse_currencies``; ids are given in the
  order the import takes them, and the import's audit events are recorded with its counts;
- SQLite: ``executemany`` in chunks, in one transaction, with no journal and no syncing while the
  file is built (a build that fails is thrown away anyway), then back to WAL;
- PostgreSQL: ``COPY`` through psycopg, in one transaction that first empties the loaded tables, so
  the rows go in frozen (``COPY … FREEZE``: no hint bits to set and no vacuum to run afterwards);
  the loaded tables' secondary indexes and unique and foreign-key constraints are dropped first and
  made again at the end, as ``pg_dump`` restores do (a sort per index rather than millions of
  random inserts, a join per foreign key rather than a lookup per row), then ``ANALYZE``, and a
  vacuum of the name-change log the triggers pruned.

The customers' triggers fire as on any insert (migrations 0002, 0008, 0010): the names stamp is fresh
and the change log holds the newest customers, pruned as the triggers prune it, so a name index
built on the store follows later changes incrementally. tests/bench/test_bulk.py builds a store both
ways and compares every table.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.service import clean_contact
from crm_core.demo.generator import DemoData
from crm_core.demo.loader import FOLLOW_UP_ORIGIN
from crm_core.interactions.service import validate_kind, validate_summary
from crm_core.io.customers import COLUMNS as CUSTOMER_FILE_COLUMNS
from crm_core.io.customers import MAX_PHONE_DIGITS, TAG_SEPARATOR
from crm_core.io.fields import content_keys, iso_texts, parse_currencies
from crm_core.io.interactions import IDEMPOTENCY_KEY_PREFIX, SOURCE
from crm_core.io.problems import RowProblems
from crm_core.models import Customer
from crm_core.store import transaction

CHUNK_ROWS = 250_000
SQLITE_CACHE_KIB = 512 * 1024
POSTGRES_INDEX_MEMORY = "1GB"
# The tables written here; their secondary indexes and constraints are remade after loading.
LOADED = ("customers", "purchases", "interactions", "follow_ups")
# clean_contact checks a name, an e-mail and a phone independently: each distinct value is cleaned
# once, the e-mails and phones beside this name.
_ANY_NAME = "x"

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Written:
    customers: int
    purchases: int
    interactions: int
    follow_ups: int


class _Sink(Protocol):
    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None: ...

    def finish(self) -> None: ...


def write_blocks(
    engine: Engine,
    blocks: Iterable[DemoData],
    *,
    actor: Actor,
    finish: Callable[[Session], object] = lambda _session: None,
    log: Callable[[str], object] = lambda _line: None,
) -> Written:
    """Write the data set ``blocks`` (its parts, in order) into the migrated, empty store of ``engine``.

    Then, in one more transaction, the audit events the import would have recorded and ``finish``
    (the team, say). ``log`` is told how long each part took.
    """
    created = _stored_time(np.array([np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None))]))[0]
    sink: _Sink = _PostgresSink(engine) if engine.dialect.name == "postgresql" else _SqliteSink(engine)
    totals = Written(0, 0, 0, 0)
    for number, block in enumerate(blocks):
        began = time.perf_counter()
        totals = _write_block(sink, block, totals, created)
        log(f"block {number + 1}: {len(block.customers):,} customers in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    sink.finish()
    log(f"indexes and statistics in {time.perf_counter() - began:.0f} s")
    with transaction(engine) as session:
        for entity, rows in (
            ("customers", totals.customers),
            ("purchases", totals.purchases),
            ("interactions", totals.interactions),
        ):
            detail = {
                "entity": entity,
                "rows": rows,
                "new": rows,
                "updated": 0,
                "unchanged": 0,
                "rejected": 0,
            }
            record(session, actor=actor, action="import", detail=detail)
        record(
            session, actor=actor, action="import", detail={"entity": "follow_ups", "new": totals.follow_ups}
        )
        finish(session)
    return totals


def _write_block(sink: _Sink, data: DemoData, before: Written, created: str) -> Written:
    customers = data.customers
    ids = pd.Series(
        range(before.customers + 1, before.customers + len(customers) + 1), index=customers["external_id"]
    )
    sink.write("customers", CUSTOMER_COLUMNS, _customer_rows(customers, ids, created))
    for table, frame, first, rows in (
        ("purchases", data.purchases, before.purchases + 1, _purchase_rows),
        ("interactions", data.interactions, before.interactions + 1, _interaction_rows),
    ):
        _same_customers(frame["customer"], ids)
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            sink.write(table, COLUMNS[table], rows(chunk, first + start, ids, created))
    sink.write(
        "follow_ups", FOLLOW_UP_COLUMNS, _follow_up_rows(data.follow_ups, before.follow_ups + 1, ids, created)
    )
    return Written(
        before.customers + len(customers),
        before.purchases + len(data.purchases),
        before.interactions + len(data.interactions),
        before.follow_ups + len(data.follow_ups),
    )


# Columns the import leaves to their defaults (erased_at, the Slack fields, done_at) are left out.
CUSTOMER_COLUMNS = (
    "id",
    "external_id",
    "name",
    "name_key",
    "email",
    "phone",
    "phone_key",
    "company",
    "owner_id",
    "lifecycle_stage",
    "tags",
    "custom_fields",
    "created_at",
    "updated_at",
)
PURCHASE_COLUMNS = ("id", "customer_id", "external_id", "occurred_at", "amount", "currency")
INTERACTION_COLUMNS = (
    "id",
    "customer_id",
    "kind",
    "summary",
    "author",
    "occurred_at",
    "source",
    "idempotency_key",
    "created_at",
)
FOLLOW_UP_COLUMNS = (
    "id",
    "customer_id",
    "owner_id",
    "due_on",
    "note",
    "status",
    "origin",
    "idempotency_key",
    "created_at",
)
COLUMNS = {"purchases": PURCHASE_COLUMNS, "interactions": INTERACTION_COLUMNS}


def _customer_rows(frame: pd.DataFrame, ids: pd.Series, created: str) -> Iterator[Row]:
    """As ``crm_core.io.customers`` stores a new customer; the file columns it does not know are
    custom fields."""
    if frame["external_id"].eq("").any():
        raise ValueError("every generated customer has an external id")
    names = _per_distinct(frame["name"], lambda name: clean_contact(name=name, email=None, phone=None)[:2])
    emails = _per_distinct(frame["email"], _clean_email)
    phones = _per_distinct(frame["phone"], _clean_phone)
    tags = _per_distinct(frame["tags"], _stored_tags)
    custom = [column for column in frame.columns if column not in CUSTOMER_FILE_COLUMNS]
    custom_fields = _per_distinct(
        pd.Series(list(zip(*(frame[column] for column in custom), strict=True)), index=frame.index),
        lambda values: json.dumps({name: value for name, value in zip(custom, values, strict=True) if value}),
    )
    stage = Customer.__table__.c.lifecycle_stage.default.arg
    return zip(
        ids.tolist(),
        frame["external_id"].tolist(),
        *zip(*names, strict=True),
        emails,
        *zip(*phones, strict=True),
        [company or None for company in frame["company"].tolist()],
        [owner or None for owner in frame["owner"].tolist()],
        repeat(stage),
        tags,
        custom_fields,
        repeat(created),
        repeat(created),
        strict=False,  # the repeated columns are endless
    )


def _clean_email(email: str) -> str | None:
    return clean_contact(name=_ANY_NAME, email=email, phone=None)[2] if email else None


def _clean_phone(phone: str) -> tuple[str | None, str | None]:
    if not phone:
        return None, None
    _name, _key, _email, clean, key = clean_contact(name=_ANY_NAME, email=None, phone=phone)
    if key and len(key) > MAX_PHONE_DIGITS:
        raise ValueError(f"phone {phone!r} has more than {MAX_PHONE_DIGITS} digits: the import refuses it")
    return clean, key


def _stored_tags(tags: str) -> str:
    return json.dumps(sorted({tag.strip() for tag in tags.split(TAG_SEPARATOR) if tag.strip()}))


def _purchase_rows(chunk: pd.DataFrame, first: int, ids: pd.Series, _created: str) -> Iterator[Row]:
    amounts = chunk["amount"].to_numpy()
    if not np.issubdtype(amounts.dtype, np.integer) or (amounts < 0).any():
        raise ValueError("generated amounts are whole, non-negative numbers")
    currencies = _per_distinct(chunk["currency"], _currency)
    return zip(
        range(first, first + len(chunk)),
        _customer_ids(chunk["customer"], ids),
        chunk["external_id"].tolist(),
        _stored_time(chunk["occurred_at"].to_numpy()),
        amounts.tolist(),
        currencies,
        strict=True,
    )


def _currency(code: str) -> str:
    problems = RowProblems(pd.RangeIndex(1))
    parsed = parse_currencies(pd.Series([code], dtype=object), problems)
    if problems.rejections:
        raise ValueError(f"the import refuses the currency {code!r}")
    return str(parsed.iloc[0])


def _interaction_rows(chunk: pd.DataFrame, first: int, ids: pd.Series, created: str) -> Iterator[Row]:
    """As ``crm_core.io.interactions`` stores them: validated kind and summary, a content key."""
    kinds = _per_distinct(chunk["kind"], validate_kind)
    summaries = _per_distinct(chunk["summary"], validate_summary)
    references = chunk["customer"].astype(object).tolist()
    keys = content_keys(
        IDEMPOTENCY_KEY_PREFIX, [references, iso_texts(chunk["occurred_at"]), kinds, summaries]
    )
    return zip(
        range(first, first + len(chunk)),
        _customer_ids(chunk["customer"], ids),
        kinds,
        summaries,
        _per_distinct(chunk["author"], lambda author: author or None),
        _stored_time(chunk["occurred_at"].to_numpy()),
        repeat(SOURCE),
        keys,
        repeat(created),
        strict=False,
    )


def _follow_up_rows(frame: pd.DataFrame, first: int, ids: pd.Series, created: str) -> Iterator[Row]:
    """As ``crm_core.demo.loader`` opens them."""
    due_on = [day.isoformat() for day in frame["due_on"].dt.date.tolist()]
    customers = frame["customer"].tolist()
    return zip(
        range(first, first + len(frame)),
        ids.reindex(customers).astype("int64").tolist(),
        frame["owner"].tolist(),
        due_on,
        frame["note"].tolist(),
        repeat("open"),
        repeat(FOLLOW_UP_ORIGIN),
        [f"demo:{customer}:{due}" for customer, due in zip(customers, due_on, strict=True)],
        repeat(created),
        strict=False,
    )


def _same_customers(references: pd.Series, ids: pd.Series) -> None:
    """The generator's timeline rows name customers as categoricals over the customers' external ids."""
    if not references.cat.categories.equals(ids.index):
        raise ValueError("timeline rows must be categoricals of the block's customers, in order")


def _customer_ids(references: pd.Series, ids: pd.Series) -> list[int]:
    codes = references.cat.codes.to_numpy()
    if (codes < 0).any():
        raise ValueError("every timeline row names a customer")
    return (codes.astype(np.int64) + int(ids.iloc[0])).tolist()


def _per_distinct(values: pd.Series, clean: Callable[[Any], Any]) -> list[Any]:
    """``clean`` of each value, called once per distinct value (names and texts repeat a lot)."""
    cleaned: dict[Hashable, Any] = {value: clean(value) for value in values.unique()}
    return [cleaned[value] for value in values.tolist()]


def _stored_time(values: np.ndarray) -> list[str]:
    """Naive times as SQLAlchemy stores them in SQLite (and PostgreSQL reads them from COPY)."""
    text = np.datetime_as_string(values.astype("datetime64[us]"), unit="us").tolist()
    return [f"{value[:10]} {value[11:]}" for value in text]


class _SqliteSink:
    """One transaction on a connection of its own, without a journal while the file is built."""

    def __init__(self, engine: Engine) -> None:
        engine.dispose()  # WAL is switched off below, which needs the only connection
        self.connection = sqlite3.connect(Path(engine.url.database or ""), isolation_level=None)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            f"cache_size=-{SQLITE_CACHE_KIB}",
            "foreign_keys=ON",
        ):
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.execute("BEGIN")

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        marks = ", ".join("?" * len(columns))
        self.connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.close()


class _PostgresSink:
    """One transaction: the loaded tables emptied (so COPY may freeze), their secondary indexes and
    constraints dropped, COPY, sequences set, indexes and constraints made again; then ANALYZE."""

    def __init__(self, engine: Engine) -> None:
        self.raw = engine.raw_connection()
        self.connection = cast(psycopg.Connection[Any], self.raw.driver_connection)
        cursor = self.connection.cursor()
        cursor.execute(f"SET maintenance_work_mem = '{POSTGRES_INDEX_MEMORY}'")
        self.remade = _secondary_structures(cursor)
        for drop, _create in reversed(self.remade):
            cursor.execute(drop)
        # CASCADE: the other tables that refer to customers are empty too (a fresh schema).
        cursor.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, LOADED))))

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FREEZE)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        with self.connection.cursor() as cursor:
            for table in LOADED:
                cursor.execute(
                    sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), max(id)) FROM {}").format(
                        sql.Literal(table), sql.Identifier(table)
                    )
                )
            for _drop, create in self.remade:
                cursor.execute(create)
        self.raw.commit()
        self.connection.autocommit = True
        with self.connection.cursor() as cursor:
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, LOADED))))
            # The triggers pruned the name-change log as customers went in: a million dead rows that
            # every later prune's index scan walks (27 ms per new customer at 1M) until a vacuum, which
            # autovacuum would run but a server may have it off (this one does).
            cursor.execute("VACUUM (ANALYZE) customer_name_changes")
        self.connection.autocommit = False
        self.raw.close()


def _secondary_structures(cursor: Any) -> list[tuple[str, str]]:
    """(drop, create) statements of the loaded tables' indexes other than primary keys, then their
    unique constraints, then their foreign keys: the order to create them in (and reversed, to drop)."""
    cursor.execute(
        "SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i WHERE i.indrelid = ANY(%(tables)s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY 1",
        {"tables": list(LOADED)},
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname), "
        "format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname, "
        "pg_get_constraintdef(c.oid)) "
        "FROM pg_constraint c WHERE c.conrelid = ANY(%(tables)s::regclass[]) AND c.contype IN ('u', 'f') "
        "ORDER BY c.contype DESC, c.conname",
        {"tables": list(LOADED)},
    )
    return [(drop, create) for drop, create in [*indexes, *cursor.fetchall()]]
