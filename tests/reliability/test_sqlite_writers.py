"""SQLite under concurrent writers: they queue for the lock, none is told "database is locked".

Two engines on one file stand for two replicas (each with its own connection pool), with eight
threads each logging calls through the service, one transaction per call as a listener does,
while a third writer keeps taking the lock for bulk imports. This runs on a SQLite file of its own
whatever store the suite uses, since it is SQLite's locking that is drilled.
"""

from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from crm_core.actor import Actor
from crm_core.identity.search import resolve_customer
from crm_core.interactions.service import log_interaction
from crm_core.io.importer import import_table
from crm_core.io.source import frame_table
from crm_core.models import Interaction
from crm_core.store import make_engine, transaction, upgrade
from tests.factories import TEST_ACTOR, customer

REPLICAS = 2
THREADS_PER_REPLICA = 8
CALLS_PER_THREAD = 25
IMPORTS = 10
IMPORT_ROWS = 500
WHEN = dt.datetime(2026, 3, 4, 9, 0)


def log_calls(engine: Engine, writer: int) -> int:
    """What a listener does per ``/crm log``: find the customer, log, commit; the count logged."""
    for call in range(CALLS_PER_THREAD):
        with transaction(engine) as session:
            acme = resolve_customer(session, actor=TEST_ACTOR, query="Acme Inc.")
            log_interaction(
                session,
                actor=Actor(f"U0WRITER{writer}", "slack", role="sales"),
                customer_external_id=acme.external_id,
                kind="call",
                summary=f"call {call} by writer {writer}",
                occurred_at=WHEN,
            )
    return CALLS_PER_THREAD


def import_notes(engine: Engine, external_id: str) -> int:
    """Bulk imports holding the write lock for a whole file each, between the listeners' writes."""
    for batch in range(IMPORTS):
        rows = pd.DataFrame(
            {
                "customer": external_id,
                "occurred_at": [
                    (WHEN + dt.timedelta(minutes=batch * IMPORT_ROWS + n)).isoformat()
                    for n in range(IMPORT_ROWS)
                ],
                "kind": "note",
                "summary": f"imported batch {batch}",
                "author": "",
            }
        )
        with transaction(engine) as session:
            report = import_table(
                session,
                entity="interactions",
                table=frame_table("notes", rows),
                actor=Actor("cli:bulk", "import"),
                now=dt.datetime.now(dt.UTC),
            )
            assert report.rejected == 0
    return IMPORTS * IMPORT_ROWS


def test_concurrent_writers_queue_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'writers.sqlite3'}"
    replicas = [make_engine(url) for _ in range(REPLICAS)]
    upgrade(replicas[0])
    with transaction(replicas[0]) as session:
        acme = customer(session, "Acme Inc.")
    writers = itertools.count()
    try:
        with ThreadPoolExecutor(max_workers=REPLICAS * THREADS_PER_REPLICA + 1) as pool:
            futures = [
                pool.submit(log_calls, engine, next(writers))
                for engine in replicas
                for _ in range(THREADS_PER_REPLICA)
            ]
            futures.append(pool.submit(import_notes, replicas[1], acme.external_id))
            written = sum(future.result() for future in futures)  # re-raises any "database is locked"
        with transaction(replicas[0]) as session:
            stored = session.scalar(select(func.count()).select_from(Interaction))
        assert stored == written == REPLICAS * THREADS_PER_REPLICA * CALLS_PER_THREAD + IMPORTS * IMPORT_ROWS
    finally:
        for engine in replicas:
            engine.dispose()
