"""``/crm find`` answers while customers arrive (issue 13, item 1, in the issue's own form).

``bench.arrivals`` times the search call alone; this is what the issue measured: eight people typing
``/crm find`` over signed HTTP to the default ``crm-bot serve`` (closed loop: each sends again once
answered), timed until the reply the fake Slack records, while another process (this one, with an
engine of its own: to the server it is a replica or an import) adds a customer every 0.3 s. Each run
has a quiet pass and a pass with arrivals over the same names, side by side. After each arrival a
ninth person looks the newcomer up by name and must be shown it: the server learns of it only
from the store.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from sqlalchemy import Engine, delete

from bench.latency import TimedSlack, Workload, in_parallel, score_store, served_process
from bench.results import Figure
from bench.search import BENCH_ACTOR
from bench.stats import median, percentile
from bot.console.signed_requests import SlackSender
from crm_core.customers.service import create_customer
from crm_core.models import Customer
from crm_core.store import make_engine, transaction

PEOPLE = 8
FINDS_PER_PERSON = 30
ARRIVAL_EVERY_SECONDS = 0.3
_PREFIX = "Arriving Newcomer"


def measure(
    *,
    scale: str,
    store: str,
    database_url: str,
    users: Sequence[str],
    runs: int,
    per_person: int = FINDS_PER_PERSON,
) -> list[Figure]:
    """Medians over ``runs`` of the answer p99 without and with arrivals, their ratio, newcomers missed."""
    # Each newcomer's lookup shows its profile card, which reads the kept scores: on a store no run
    # has scored, every card scores all customers first (about 1 s of CPU at 100k, many at 1M), so the
    # busy pass would measure that, not the arrivals. A running bot has scored at its first tick.
    score_store(database_url)
    slack = TimedSlack()
    samples: dict[str, list[float]] = {}
    writer = make_engine(database_url)
    try:
        with slack, served_process("app", database_url, slack) as (sender, _process):
            for run in range(-1, runs):  # run -1 warms up: the name index, users.info, imports
                names = Workload.sample(database_url, PEOPLE * per_person, seed=run + 60).names
                quiet = _answers(sender, slack, names, users)
                stop = threading.Event()
                missed: list[str] = []
                arriving = threading.Thread(
                    target=_arrive, args=(writer, sender, slack, f"{_PREFIX} {run}", stop, missed)
                )
                arriving.start()
                try:
                    busy = _answers(sender, slack, names, users)
                finally:
                    stop.set()
                    arriving.join()
                if run < 0:
                    continue
                quiet_p99, busy_p99 = percentile(quiet, 99), percentile(busy, 99)
                samples.setdefault("find_arrivals_quiet_p99_ms", []).append(quiet_p99)
                samples.setdefault("find_arrivals_busy_p99_ms", []).append(busy_p99)
                samples.setdefault("find_arrivals_p99_ratio", []).append(busy_p99 / quiet_p99)
                samples.setdefault("find_arrivals_missed", []).append(len(missed))
    finally:
        with transaction(writer) as session:
            session.execute(delete(Customer).where(Customer.name.like(f"{_PREFIX} %")))
        writer.dispose()
    note = "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        Figure(metric, scale, store, median(values), runs, note=note) for metric, values in samples.items()
    ]


def _answers(
    sender: SlackSender, slack: TimedSlack, names: Sequence[str], users: Sequence[str]
) -> list[float]:
    """Milliseconds from each ``/crm find`` sent until its reply, from ``PEOPLE`` threads."""
    answered: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(PEOPLE)

    def person(number: int) -> None:
        start.wait()
        try:
            for name in names[number::PEOPLE]:
                began = time.perf_counter()
                sent = sender.command(f"find {name}", user=users[number % len(users)])
                if sent.answer.status != 200:
                    raise RuntimeError(f"find {name!r} answered HTTP {sent.answer.status}")
                with lock:
                    answered.append((slack.replied_at(sent.response_id) - began) * 1000)
        except BaseException as error:
            failures.append(error)

    in_parallel(person, failures, PEOPLE)
    return answered


def _arrive(
    writer: Engine,
    sender: SlackSender,
    slack: TimedSlack,
    prefix: str,
    stop: threading.Event,
    missed: list[str],
) -> None:
    """Add a customer every ``ARRIVAL_EVERY_SECONDS`` until ``stop``; look each one up by name."""
    number = 0
    while not stop.wait(ARRIVAL_EVERY_SECONDS):
        name = f"{prefix} {number}"
        number += 1
        with transaction(writer) as session:
            create_customer(session, actor=BENCH_ACTOR, name=name)
        sent = sender.command(f"find {name}", user="U0REP01")
        slack.replied_at(sent.response_id)
        if not any(name in call.text for call in slack.replies(sent.response_id)):
            missed.append(name)
