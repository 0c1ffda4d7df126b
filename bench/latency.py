"""``/crm find`` and ``/crm log`` under 16 concurrent clients, against the bare Bolt floor.

The app and the floor (``bench.serve``) each run in a server process of their own, on the same
server stack (``bot.transport.http_server.HttpServer``, waitress). Sixteen client threads here
send signed slash commands over HTTP, as Slack does (``tests.bot.harness.SlackSender``),
closed loop: each client sends its next command once it has its answer. What Slack waits for is
the ack, the HTTP round trip; the reply (the response URL post that the fake Slack records) is
timed too, for information. The floor has no reply, so its clients send again as soon as they are
acknowledged.

Runs of the floor, find and log are interleaved, so a busy moment on the machine hits all three.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from bench.results import Figure
from bench.serve import BOT_TOKEN, SIGNING_SECRET
from bench.stats import median, percentile
from bot.console.fake_web_api import RESPONSE_URL, Call, FakeSlack
from bot.console.signed_requests import SlackSender
from crm_core.analytics.scoring import score_if_due
from crm_core.models import Customer, Interaction
from crm_core.store import make_engine, transaction

CLIENTS = 16
REQUESTS_PER_CLIENT = 15  # 240 requests a run: p99 is about the third slowest
REPLY_TIMEOUT_SECONDS = 60.0
KINDS = ("floor", "find", "log")
# The app is served as docs/PERFORMANCE.md and the README recommend under load: `--workers 2`.
APP_WORKERS = 2


class TimedSlack(FakeSlack):
    """The fake Slack, also noting the moment each response URL post is recorded."""

    def __init__(self) -> None:
        super().__init__(token=BOT_TOKEN)
        # Slack keeps a client's connection open between requests (HTTP/1.1), and the bot keeps its
        # connection to a response URL's host (``bot.slack_api.web_api``): this fake does too, so a
        # reply is measured as it costs against Slack, not with a TCP handshake (and, here, a new
        # thread in the fake, on the same two cores) before each one. Every answer of the fake has
        # its Content-Length, which is all HTTP/1.1 needs of it.
        handler: Any = self._server.RequestHandlerClass  # this instance's own class
        handler.protocol_version = "HTTP/1.1"
        self._replied_at: dict[str, float] = {}
        self._replied = threading.Condition()

    def _record(self, call: Call) -> None:
        super()._record(call)
        if call.method == RESPONSE_URL and call.ok:
            with self._replied:
                self._replied_at[call.path.rsplit("/", 1)[-1]] = time.perf_counter()
                self._replied.notify_all()

    def replied_at(self, response_id: str) -> float:
        with self._replied:
            if not self._replied.wait_for(lambda: response_id in self._replied_at, REPLY_TIMEOUT_SECONDS):
                raise RuntimeError(f"no reply to {response_id} within {REPLY_TIMEOUT_SECONDS:.0f} s")
            return self._replied_at[response_id]


@dataclass(frozen=True)
class Timing:
    ack: float  # seconds until the HTTP answer
    reply: float | None  # seconds until the reply was recorded, where there is one


@contextmanager
def served(kind: str, database_url: str, slack: FakeSlack, workers: int = 0) -> Iterator[SlackSender]:
    """A ``bench.serve`` process, and a sender signing requests for it."""
    with served_process(kind, database_url, slack, workers) as (sender, _process):
        yield sender


@contextmanager
def served_process(
    kind: str, database_url: str, slack: FakeSlack, workers: int = 0
) -> Iterator[tuple[SlackSender, subprocess.Popen[str]]]:
    """A ``bench.serve`` process and a sender for it; the process, to read the CPU time it spends."""
    argv = [
        sys.executable,
        "-m",
        "bench.serve",
        kind,
        "--database-url",
        database_url,
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen([*argv, "--slack-api-url", slack.api_url], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, slack), process
    finally:
        process.terminate()
        process.wait(timeout=30)


def score_store(database_url: str) -> None:
    """Keep today's scores in the store, as the nightly job does (``score_if_due``), if not kept yet.

    A profile card reads the kept scores. In a store that no run has scored, each card scores every
    customer afresh (``crm_core.analytics.scoring.score_before_any_scoring``: about a second of CPU
    at 100k customers), which is a store's first hours, not the everyday answer measured here.
    """
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            score_if_due(session, today=dt.datetime.now(dt.UTC).date())
    finally:
        engine.dispose()


def in_parallel(client: Callable[[int], None], failures: list[BaseException], count: int = CLIENTS) -> None:
    """Run ``client(n)`` for each of ``count`` clients on threads of its own; re-raise the first failure."""
    threads = [threading.Thread(target=client, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def run_clients(
    sender: SlackSender, slack: TimedSlack, commands: Sequence[str], users: Sequence[str], *, wait_reply: bool
) -> list[Timing]:
    """Send ``commands`` from ``CLIENTS`` threads started together; each client takes every 16th."""
    timings: list[Timing] = []
    failures: list[BaseException] = []
    start = threading.Barrier(CLIENTS)
    lock = threading.Lock()

    def client(number: int) -> None:
        start.wait()
        try:
            for text in commands[number::CLIENTS]:
                began = time.perf_counter()
                sent = sender.command(text, user=users[number % len(users)])
                acked = time.perf_counter()
                if sent.answer.status != 200:
                    raise RuntimeError(f"{text!r} answered HTTP {sent.answer.status}")
                reply = slack.replied_at(sent.response_id) - began if wait_reply else None
                with lock:
                    timings.append(Timing(acked - began, reply))
        except BaseException as error:
            failures.append(error)

    in_parallel(client, failures)
    return timings


@dataclass(frozen=True)
class Workload:
    """What the clients type: names to find, and e-mails of customers to log a call to."""

    names: list[str]
    emails: list[str]

    @classmethod
    def sample(cls, database_url: str, count: int, seed: int) -> Workload:
        engine = make_engine(database_url)
        try:
            with transaction(engine) as session:
                rows = session.execute(select(Customer.name, Customer.email).order_by(Customer.id)).all()
        finally:
            engine.dispose()
        rng = np.random.default_rng(seed)
        picked = [rows[i] for i in rng.choice(len(rows), size=count * 2, replace=False)]
        return cls(
            names=[name for name, _ in picked[:count]],
            emails=[email for _, email in picked if email][:count],
        )

    def commands(self, kind: str) -> list[str]:
        if kind == "log":
            return [f"log {email} call Talked about the renewal" for email in self.emails]
        return [f"find {name}" for name in self.names]


def measure(
    *, scale: str, store: str, database_url: str, users: Sequence[str], runs: int, per_client: int
) -> list[Figure]:
    """Medians over ``runs`` of p50/p99 for the floor, find and log, and their ratios to the floor."""
    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    count = CLIENTS * per_client
    score_store(database_url)
    slack = TimedSlack()
    with (
        slack,
        served("floor", database_url, slack) as floor,
        served("app", database_url, slack, APP_WORKERS) as app,
    ):
        for run in range(-1, runs):  # run -1 warms up: index cache, users.info, imports
            workload = Workload.sample(database_url, count, seed=run + 2)
            for kind in KINDS:
                sender = floor if kind == "floor" else app
                commands = workload.commands("find") if kind == "floor" else workload.commands(kind)
                timings = run_clients(sender, slack, commands, users, wait_reply=kind != "floor")
                if run >= 0:
                    samples[kind].append(_summary(timings))
    _forget_logged(database_url)
    figures = []
    for kind, per_run in samples.items():
        for statistic in per_run[0]:
            value = median([summary[statistic] for summary in per_run])
            figures.append(Figure(f"{kind}_{statistic}", scale, store, value, runs))
    floor_p99 = median([s["ack_p99_ms"] for s in samples["floor"]])
    for kind in ("find", "log"):
        ratios = [
            s["ack_p99_ms"] / f["ack_p99_ms"] for s, f in zip(samples[kind], samples["floor"], strict=True)
        ]
        figures.append(Figure(f"{kind}_ack_p99_ratio", scale, store, median(ratios), runs))
    print(f"  floor ack p99 {floor_p99:.1f} ms", flush=True)
    return figures


def _summary(timings: list[Timing]) -> dict[str, float]:
    acks = [t.ack * 1000 for t in timings]
    summary = {"ack_p50_ms": percentile(acks, 50), "ack_p99_ms": percentile(acks, 99)}
    replies = [t.reply * 1000 for t in timings if t.reply is not None]
    if replies:
        summary |= {"reply_p50_ms": percentile(replies, 50), "reply_p99_ms": percentile(replies, 99)}
    return summary


def _forget_logged(database_url: str) -> None:
    """Delete the calls the clients logged, so the store holds the benchmark's data set again."""
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            session.execute(delete(Interaction).where(Interaction.source == "slack"))
    finally:
        engine.dispose()
