"""Search while customers arrive (issue 13, item 1): ``search_customers`` p99 with and without arrivals.

One reader searches names as ``bench.search`` types them; in the "arrivals" pass another engine (a
replica, as far as the name index can tell: it learns of the new customer only from the store) adds
a customer before every fourth query, and the reader also looks the newcomer up, which must find it.
Both passes run side by side in each run, so the ratio is what the target compares (≤ 1.5×).
Newcomers are deleted afterwards, so the store keeps the benchmark's data set.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, delete

from bench.results import Figure
from bench.search import BENCH_ACTOR, queries
from bench.stats import median, percentile
from crm_core.customers.service import create_customer
from crm_core.identity.search import search_customers
from crm_core.models import Customer
from crm_core.store import make_engine, transaction

QUERIES_PER_PASS = 200
ARRIVAL_EVERY = 4
_PREFIX = "Arriving Newcomer"


def measure(
    *, scale: str, store: str, database_url: str, runs: int, count: int = QUERIES_PER_PASS
) -> list[Figure]:
    """Medians over ``runs`` of p99 without and with arrivals, their ratio, and newcomers not found."""
    reader, writer = make_engine(database_url), make_engine(database_url)
    samples: dict[str, list[float]] = {}
    try:
        with transaction(reader) as session:
            typed = queries(session, count, seed=11)
            search_customers(session, query=typed[0])  # the index is built, as after a first search
        for run in range(runs):
            quiet = [_timed(reader, text) for text in typed]
            busy, missed = [], 0
            for number, text in enumerate(typed):
                if number % ARRIVAL_EVERY == 0:
                    name = f"{_PREFIX} {run} {number}"
                    with transaction(writer) as session:
                        create_customer(session, actor=BENCH_ACTOR, name=name)
                    with transaction(reader) as session:
                        found = search_customers(session, query=name, limit=1, cutoff=99)
                    missed += not found or found[0].customer.name != name
                busy.append(_timed(reader, text))
            samples.setdefault("arrivals_quiet_p99_ms", []).append(percentile(quiet, 99))
            samples.setdefault("arrivals_busy_p99_ms", []).append(percentile(busy, 99))
            samples.setdefault("arrivals_p99_ratio", []).append(percentile(busy, 99) / percentile(quiet, 99))
            samples.setdefault("arrivals_missed", []).append(missed)
        with transaction(writer) as session:
            session.execute(delete(Customer).where(Customer.name.like(f"{_PREFIX} %")))
    finally:
        reader.dispose()
        writer.dispose()
    return [Figure(metric, scale, store, median(values), runs) for metric, values in samples.items()]


def _timed(engine: Engine, text: str) -> float:
    began = time.perf_counter()
    with transaction(engine) as session:
        search_customers(session, query=text)
    return (time.perf_counter() - began) * 1000
