"""The benchmark's stores: demo data at a given scale, loaded once and reused across runs.

Each scale is the demo generator's data (Japanese and English names, BG/NBD purchases, follow-ups)
with two changes that make it look like a team rather than a demo: customers are spread over
``REPS`` sales reps (the demo has four), and interactions are topped up to
``INTERACTIONS_PER_CUSTOMER`` per customer, so 100k customers come with the 1M interactions the
latency target speaks of. Everything is written through the import pipeline, as users' files are.

Loading 100k customers takes a minute or two, so a store is kept (a SQLite file in the work
directory, or a PostgreSQL database of its own) and reused while it still holds exactly this data.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, make_url, select, text

from bench.import_bench import NOW, TODAY
from crm_core.actor import Actor
from crm_core.demo.generator import HISTORY_DAYS, DemoData, generate_demo_data
from crm_core.demo.loader import write_demo_data
from crm_core.models import Base, Customer, Interaction, Purchase
from crm_core.store import current_revision, make_engine, transaction, upgrade
from crm_core.team.service import add_member

SEED = 1
INTERACTIONS_PER_CUSTOMER = 10
REPS = tuple(f"U0REP{number:02d}" for number in range(1, 19))
MANAGERS = ("U0MGR01", "U0MGR02")
ACTOR = Actor(user_id="bench", surface="import")
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def parse_scales(listed: str) -> list[str]:
    names = [name.strip().lower() for name in listed.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCALES]
    if unknown:
        raise ValueError(f"unknown scale(s) {', '.join(unknown)}: choose from {', '.join(SCALES)}")
    return names


def bench_data(customers: int, seed: int = SEED) -> DemoData:
    """The demo data for ``customers`` customers, owned by ``REPS`` and with more interactions."""
    data = generate_demo_data(customers=customers, seed=seed, today=TODAY)
    rng = np.random.default_rng(seed + 1)
    owner_of = dict(zip(data.customers["external_id"], _reps(rng, len(data.customers)), strict=True))
    return dataclasses.replace(
        data,
        customers=data.customers.assign(owner=data.customers["external_id"].map(owner_of)),
        follow_ups=data.follow_ups.assign(owner=data.follow_ups["customer"].map(owner_of)),
        interactions=_more_interactions(rng, data.interactions, customers * INTERACTIONS_PER_CUSTOMER),
    )


def _reps(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array(REPS)[rng.integers(len(REPS), size=n)]


def _more_interactions(rng: np.random.Generator, base: pd.DataFrame, wanted: int) -> pd.DataFrame:
    """``wanted`` interactions: copies of the demo's, each copy moved by its own number of days.

    A copy moved by k days (wrapping around within the history) never repeats a (customer, time)
    of another copy, so the import keeps every row.
    """
    copies = -(-wanted // len(base))
    start = pd.Timestamp(TODAY) - pd.Timedelta(days=HISTORY_DAYS)
    offset = base["occurred_at"] - start
    history = pd.Timedelta(days=HISTORY_DAYS)
    frames = [
        base.assign(occurred_at=start + (offset + pd.Timedelta(days=37 * copy)) % history)
        for copy in range(copies)
    ]
    everything = pd.concat(frames, ignore_index=True)
    chosen = np.sort(rng.permutation(len(everything))[:wanted])
    return everything.iloc[chosen].sort_values("occurred_at", kind="stable", ignore_index=True)


@dataclass(frozen=True)
class Store:
    """A loaded store and what is in it."""

    url: str
    customers: int
    purchases: int
    interactions: int


def sqlite_url(workdir: Path, scale: str) -> str:
    return f"sqlite:///{workdir / f'store-{scale}.sqlite3'}"


def postgres_url(server_url: str, scale: str, prefix: str = "crm_bench") -> str:
    """A database of the benchmark's own per scale, so test runs (which drop schemas) never collide."""
    return make_url(server_url).set(database=f"{prefix}_{scale}").render_as_string(hide_password=False)


def prepare_store(url: str, data: DemoData, *, log: bool = True) -> Store:
    """The store at ``url`` holding ``data``: reused when it already does, else emptied and loaded."""
    expected = Store(url, len(data.customers), len(data.purchases), len(data.interactions))
    with _engine(url) as engine:
        if current_revision(engine) is not None:
            # A kept store takes later migrations (an index, a table) in seconds; reloading it would
            # take up to an hour at 1M.
            upgrade(engine)
        if _contents(engine, url) == expected:
            return expected
        started = time.perf_counter()
        _reset(engine)
        upgrade(engine)
        with transaction(engine) as session:
            report = write_demo_data(session, data=data, actor=ACTOR, now=NOW)
            for member in REPS:
                add_member(session, actor=ACTOR, user_id=member, role="sales", timezone="Asia/Tokyo")
            for member in MANAGERS:
                add_member(session, actor=ACTOR, user_id=member, role="manager", timezone="Asia/Tokyo")
        rejected = sum(r.rejected for r in report.imports)
        loaded = _contents(engine, url)
        if rejected or loaded != expected:
            raise SystemExit(f"loading the benchmark store went wrong: {rejected} rows rejected, {loaded}")
        if log:
            print(f"  loaded {expected} in {time.perf_counter() - started:.0f} s", flush=True)
        return loaded


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    if url.startswith("postgresql"):
        _create_database(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _create_database(url: str) -> None:
    parsed = make_url(url)
    server = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        server.dispose()


def _contents(engine: Engine, url: str) -> Store | None:
    """What the store holds, or None when its schema is not the models' (then it is loaded afresh)."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            return None
        if {c["name"] for c in inspector.get_columns(table.name)} != set(table.columns.keys()):
            return None
    with transaction(engine) as session:
        counts = [
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, Purchase, Interaction)
        ]
    return Store(url, *counts)


def _reset(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(engine.url.database or "")
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
