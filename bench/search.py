"""Name search straight through the service: ``search_customers`` and ``resolve_customer``.

The queries are what people type into ``/crm find``: names as stored, with a typo, in another case
or without the space, e-mails, phone numbers, and names of nobody. The name index is built before
timing (its build is reported on its own), as it is after a replica's first search.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.results import Figure
from bench.stats import median, percentile
from crm_core.actor import Actor
from crm_core.errors import CrmError
from crm_core.identity.search import resolve_customer, search_customers
from crm_core.models import Customer
from crm_core.store import make_engine, transaction

BENCH_ACTOR = Actor(user_id="cli:bench", surface="cli")  # the operator, as crm-bot find runs

QUERIES_PER_RUN = 400
NOBODY = ("Nonexistent Trading", "架空商事", "Zebulon Quixote", "存在しない 太郎")


def queries(session: Session, count: int, seed: int) -> list[str]:
    """A mix of what people type, drawn from the store's own customers."""
    rng = np.random.default_rng(seed)
    rows = session.execute(select(Customer.name, Customer.email, Customer.phone).order_by(Customer.id)).all()
    picked = [rows[i] for i in rng.choice(len(rows), size=count, replace=False)]
    typed: list[str] = []
    for number, (name, email, phone) in enumerate(picked):
        kind = number % 10
        if kind < 4:
            typed.append(name)
        elif kind < 6:
            cut = int(rng.integers(len(name)))
            typed.append(name[:cut] + name[cut + 1 :])
        elif kind == 6:
            typed.append(name.upper() if name.isascii() else name.replace(" ", ""))
        elif kind == 7:
            typed.append(email or name)
        elif kind == 8:
            typed.append(phone or name)
        else:
            typed.append(NOBODY[number % len(NOBODY)])
    return typed


def _resolve(session: Session, query: str) -> None:
    with contextlib.suppress(CrmError):  # ambiguous or no match: answered with candidates, still a search
        resolve_customer(session, actor=BENCH_ACTOR, query=query)


def _search(session: Session, query: str) -> None:
    search_customers(session, query=query)


def measure(
    *, scale: str, store: str, database_url: str, runs: int, count: int = QUERIES_PER_RUN
) -> list[Figure]:
    """p50 and p99 of single searches, medians over ``runs`` runs, plus the index build time."""
    engine = make_engine(database_url)
    calls: dict[str, Callable[[Session, str], None]] = {"search": _search, "resolve": _resolve}
    per_run: dict[str, list[float]] = {}
    try:
        with transaction(engine) as session:
            began = time.perf_counter()
            search_customers(session, query="warm up the name index")
            build = time.perf_counter() - began
            for run in range(runs):
                typed = queries(session, count, seed=run)
                for name, call in calls.items():
                    elapsed = []
                    for query in typed:
                        began = time.perf_counter()
                        call(session, query)
                        elapsed.append((time.perf_counter() - began) * 1000)
                    per_run.setdefault(f"{name}_p50_ms", []).append(percentile(elapsed, 50))
                    per_run.setdefault(f"{name}_p99_ms", []).append(percentile(elapsed, 99))
    finally:
        engine.dispose()
    figures = [Figure(metric, scale, store, median(values), runs) for metric, values in per_run.items()]
    return [*figures, Figure("search_index_build_ms", scale, store, build * 1000, 1, note="first search")]
