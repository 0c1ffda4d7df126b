"""Search while customers arrive (issue 13, item 1): ``search_customers`` p99 with and without arrivals.

One reader searches names as ``bench.search`` types them, each query twice: once with nothing changed
since its last search ("quiet"), once in the "arrivals" condition, where before every fourth query
another engine (a replica, as far as the name index can tell: it learns of the new customer only
from the store) adds a customer, so that search is the first after the arrival and pays for bringing
the index up to date; the reader then looks the newcomer up, which must find it. The two conditions
alternate query by query (which goes first alternates too), so on a shared machine a burst of other
work falls on both alike rather than on one pass; the ratio of their p99s is what the target
compares (≤ 1.5×). Newcomers are deleted afterwards, so the store keeps the benchmark's data set.
The ratio's note gives each run's ratio and the load average.
"""

from __future__ import annotations

import os
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
            quiet: list[float] = []
            busy: list[float] = []
            missed = 0
            for number, text in enumerate(typed):
                if number % 2:
                    missed += _with_arrival(reader, writer, text, busy, None)
                    quiet.append(_timed(reader, text))
                else:
                    quiet.append(_timed(reader, text))
                    arriving = f"{_PREFIX} {run} {number}" if number % ARRIVAL_EVERY == 0 else None
                    missed += _with_arrival(reader, writer, text, busy, arriving)
            samples.setdefault("arrivals_quiet_p99_ms", []).append(percentile(quiet, 99))
            samples.setdefault("arrivals_busy_p99_ms", []).append(percentile(busy, 99))
            samples.setdefault("arrivals_p99_ratio", []).append(percentile(busy, 99) / percentile(quiet, 99))
            samples.setdefault("arrivals_missed", []).append(missed)
        with transaction(writer) as session:
            session.execute(delete(Customer).where(Customer.name.like(f"{_PREFIX} %")))
    finally:
        reader.dispose()
        writer.dispose()
    ratios = ", ".join(f"{ratio:.2f}" for ratio in samples["arrivals_p99_ratio"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    notes = {"arrivals_p99_ratio": f"runs {ratios}; load {load}"}
    return [
        Figure(metric, scale, store, median(values), runs, note=notes.get(metric, ""))
        for metric, values in samples.items()
    ]


def _with_arrival(reader: Engine, writer: Engine, text: str, busy: list[float], arriving: str | None) -> bool:
    """Time ``text`` into ``busy``, after adding the customer ``arriving`` if given; True when the
    newcomer is then not found."""
    if arriving is None:
        busy.append(_timed(reader, text))
        return False
    with transaction(writer) as session:
        create_customer(session, actor=BENCH_ACTOR, name=arriving)
    busy.append(_timed(reader, text))
    with transaction(reader) as session:
        found = search_customers(session, query=arriving, limit=1, cutoff=99)
    return not found or found[0].customer.name != arriving


def _timed(engine: Engine, text: str) -> float:
    began = time.perf_counter()
    with transaction(engine) as session:
        search_customers(session, query=text)
    return (time.perf_counter() - began) * 1000
