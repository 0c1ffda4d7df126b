"""The benchmark's stores: demo data at a given scale, loaded once and reused across runs.

Each scale is the demo generator's data (Japanese and English names, BG/NBD purchases, follow-ups)
with two changes that make it look like a team rather than a demo: customers are spread over
``REPS`` sales reps (the demo has four), and interactions are topped up to
``INTERACTIONS_PER_CUSTOMER`` per customer, so 100k customers come with the 1M interactions the
latency target speaks of.

Up to ``BLOCK_CUSTOMERS`` that is one call of the generator (``bench_data``). Larger scales are blocks
of it (``bench_blocks``): ``bench_data(BLOCK_CUSTOMERS, seed)`` with the seeds 1, 3, 5, … (``bench_data``
draws owners with ``seed + 1``), so the first block is the 1M data set itself, external ids
(``C<seed>-…``) and order ids (``O<seed>-…``) never repeat, and no block needs more memory than 1M
does (one call for 10M would need about 25 GB). A customer's e-mail and phone belong to them alone,
so from the second block on, an address an earlier block has (``info@…``, ``taro.sato@gmail.com``)
is numbered on as the generator numbers repeats within a block (``taro.sato7@gmail.com``), and a
phone number an earlier block has (about 1 in 100) is left out.

The rows are written in bulk (``bench.bulk``: the import pipeline's rows, checked equal to them by
tests/bench/test_bulk.py) rather than through the import, which took 48 minutes at 1M on SQLite and
did not finish on PostgreSQL. A store is kept (a SQLite file in the work directory, or a PostgreSQL
database of its own) and reused while it still holds exactly this data.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, make_url, select, text
from sqlalchemy.orm import Session

from bench.bulk import write_blocks
from bench.import_bench import TODAY
from crm_core.actor import Actor
from crm_core.demo.generator import HISTORY_DAYS, DemoData, generate_demo_data
from crm_core.models import Base, Customer, Interaction, Purchase
from crm_core.store import current_revision, make_engine, transaction, upgrade
from crm_core.team.service import add_member

SEED = 1
INTERACTIONS_PER_CUSTOMER = 10
REPS = tuple(f"U0REP{number:02d}" for number in range(1, 19))
MANAGERS = ("U0MGR01", "U0MGR02")
ACTOR = Actor(user_id="bench", surface="import")
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
BLOCK_CUSTOMERS = 1_000_000


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


def bench_blocks(customers: int, block: int = BLOCK_CUSTOMERS) -> Iterator[DemoData]:
    """The data set of ``customers`` customers, ``block`` at a time (see the module docstring)."""
    if customers <= block:
        yield bench_data(customers, SEED)
        return
    if customers % block:
        raise ValueError(f"above {block:,} customers, a data set is whole blocks of them")
    contacts = _DistinctContacts()
    for number in range(customers // block):
        yield contacts.of(bench_data(block, SEED + 2 * number))


class _DistinctContacts:
    """Keeps the e-mails and phones of each block apart from those of the blocks before it."""

    def __init__(self) -> None:
        self.addresses: dict[str, int] = {}  # mailbox@domain -> how many numbers earlier blocks used
        self.phones = np.array([], dtype="S")  # sorted

    def of(self, data: DemoData) -> DemoData:
        customers = data.customers
        emails, phones = customers["email"].to_numpy(dtype=object), customers["phone"].to_numpy(dtype=object)
        given = emails != ""
        # The generator writes mailbox, number (none for the first), @, domain; mailboxes have no digits.
        parts = pd.Series(emails[given]).str.extract(r"^(?P<box>[^@]*?)(?P<number>\d*)@(?P<domain>.*)$")
        if parts.isna().any().any():
            raise ValueError("an e-mail the generator did not write")
        base = parts["box"] + "@" + parts["domain"]
        occurrence = pd.to_numeric(parts["number"].replace("", "1")) - 1 + base.map(self.addresses).fillna(0)
        occurrence = occurrence.astype("int64")
        number = occurrence.map(lambda n: str(n + 1) if n else "")
        emails[given] = (parts["box"] + number + "@" + parts["domain"]).to_numpy(dtype=object)
        self.addresses.update({str(box): int(n) for box, n in (occurrence + 1).groupby(base).max().items()})
        dialled = phones != ""
        raw = phones[dialled].astype("S")
        taken = np.isin(raw, self.phones)
        phones[np.flatnonzero(dialled)[taken]] = ""
        self.phones = np.union1d(self.phones, raw[~taken])
        return dataclasses.replace(data, customers=customers.assign(email=emails, phone=phones))


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


def prepare_store(url: str, data: DemoData | int, *, block: int = BLOCK_CUSTOMERS, log: bool = True) -> Store:
    """The store at ``url`` holding ``data`` (or the data set of that many customers, ``bench_blocks``
    of ``block``): reused when it already does, else emptied and written in bulk."""
    blocks = _blocks(data, block)
    with store_engine(url) as engine:
        if current_revision(engine) is not None:
            # A kept store takes later migrations (an index, a table) in seconds; reloading it would not.
            upgrade(engine)
        held = _contents(engine, url)
        if held is not None and held.customers and held == _expected(url, _blocks(data, block)):
            return held
        started = time.perf_counter()
        reset_store(engine)
        upgrade(engine)
        written = write_blocks(
            engine,
            blocks,
            actor=ACTOR,
            finish=add_team,
            log=lambda line: print(f"  {line}", flush=True) if log else None,
        )
        expected = Store(url, written.customers, written.purchases, written.interactions)
        loaded = _contents(engine, url)
        if loaded != expected:
            raise SystemExit(f"writing the benchmark store went wrong: {loaded}, expected {expected}")
        if log:
            print(f"  loaded {expected} in {time.perf_counter() - started:.0f} s", flush=True)
        return loaded


def _blocks(data: DemoData | int, block: int) -> Iterable[DemoData]:
    return [data] if isinstance(data, DemoData) else bench_blocks(data, block)


def _expected(url: str, blocks: Iterable[DemoData]) -> Store:
    """What the store should hold, counted block by block (generating a million customers takes
    about 15 s, writing them minutes)."""
    counts = [0, 0, 0]
    for block in blocks:
        for position, frame in enumerate((block.customers, block.purchases, block.interactions)):
            counts[position] += len(frame)
    return Store(url, *counts)


def add_team(session: Session) -> None:
    for member in REPS:
        add_member(session, actor=ACTOR, user_id=member, role="sales", timezone="Asia/Tokyo")
    for member in MANAGERS:
        add_member(session, actor=ACTOR, user_id=member, role="manager", timezone="Asia/Tokyo")


@contextmanager
def store_engine(url: str) -> Iterator[Engine]:
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


def reset_store(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(engine.url.database or "")
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
