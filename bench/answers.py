"""Answers, not only acks (issue 13, items 2 and 4): ``/crm find`` until its reply; ``/crm log`` per second.

Item 2: the reply to ``/crm find`` (until the response URL post that the fake Slack records), with
16 clients at 100k customers, against the floor's ack p99, measured side by side in one run: the
default server (``crm-bot serve``, no worker processes) and ``--workers 2``. CPU milliseconds per
find are the server's process tree's CPU time (``/proc``: user + system, the workers included) over
the finds it answered.

Item 4: 16 clients send ``/crm log`` nonstop (each sends its next command as soon as the last is
acknowledged); the figure is the interactions stored and replied per second, from the first send to
the last reply, with ``--workers 2``. Each command carries a token of its own, so the store shows
which were lost (acknowledged, never stored) or stored twice.

The clients and the response URLs they wait on are ``bench.loadgen``'s, an asyncio process of its
own, so that the load generator's own queueing is not part of an answer's time and its CPU is
small; what it spends per request is measured too (``answers_loadgen_cpu_*``, ``log_loadgen_cpu_ms``:
its process over the run, plus this process's fake Web API), since it runs on the same cores, and
so is how late its loop ran (``answers_loadgen_lag_p99_ms``, ``log_loadgen_lag_p99_ms``): about what
a reply may have waited to be timed.

The machine is shared: each figure's note carries the load average when it was measured, and on
PostgreSQL the server's commit settings (``synchronous_commit``, ``fsync``, group commit's
``commit_delay`` and ``commit_siblings``), which the figures depend on as much as on the code.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, func, select, text

from bench.latency import CLIENTS, Workload, score_store, served_process
from bench.loadgen import LoadGenerator
from bench.loadgen import cpu_seconds as own_cpu_seconds
from bench.results import Figure
from bench.serve import BOT_TOKEN, SIGNING_SECRET
from bench.stats import median, percentile
from bot.console.fake_web_api import FakeSlack
from crm_core.models import Interaction
from crm_core.store import make_engine, transaction

APP_WORKERS = 2
LOGS_PER_CLIENT = 60  # 960 logs a run
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(process: subprocess.Popen[str]) -> float:
    """User + system CPU time of ``process`` and its living children (the worker processes)."""
    pids = [process.pid, *_children(process.pid)]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# What a PostgreSQL figure depends on besides the code: how commits reach the disk. Group commit
# (commit_delay, commit_siblings) lets concurrent commits share one WAL flush.
_COMMIT_SETTINGS = ("synchronous_commit", "fsync", "commit_delay", "commit_siblings")


def server_settings(database_url: str) -> str:
    """The store server's commit settings, for a figure's note ("" for SQLite)."""
    engine = make_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            return ""
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, setting FROM pg_settings WHERE name = ANY(:names) ORDER BY name"),
                {"names": list(_COMMIT_SETTINGS)},
            ).all()
    finally:
        engine.dispose()
    return "; " + " ".join(f"{name}={setting}" for name, setting in rows)


def measure_answers(
    *, scale: str, store: str, database_url: str, users: Sequence[str], runs: int, per_client: int
) -> list[Figure]:
    """Medians over ``runs``: the floor's ack p99, find's reply p99 and CPU ms per find, each server;
    and the load generator's CPU ms per find (its process, and this one's fake Web API)."""
    count = CLIENTS * per_client
    score_store(database_url)  # finds show profile cards, which read the kept scores
    # The Web API (users.info, rarely: people are cached) is this process's fake Slack; the response
    # URLs, the clients and their timing are the load generator's, in a process of its own.
    slack = FakeSlack(token=BOT_TOKEN)
    samples: dict[str, list[float]] = {}
    with (
        slack,
        LoadGenerator(SIGNING_SECRET) as load,
        served_process("floor", database_url, slack) as (floor, _floor_process),
        served_process("app", database_url, slack) as default,
        served_process("app", database_url, slack, APP_WORKERS) as workers,
    ):
        servers = {"default": default, "workers": workers}
        for run in range(-1, runs):  # run -1 warms up
            commands = Workload.sample(database_url, count, seed=run + 20).commands("find")
            floor_run = load.closed_loop(floor.url, commands, users, wait_reply=False)
            floor_p99 = percentile([t.ack * 1000 for t in floor_run.timings], 99)
            for name, (sender, process) in servers.items():
                before, own_before = cpu_seconds(process), own_cpu_seconds()
                found = load.closed_loop(sender.url, commands, users, wait_reply=True)
                cpu_ms = (cpu_seconds(process) - before) * 1000 / len(found.timings)
                loadgen_ms = (found.cpu_seconds + own_cpu_seconds() - own_before) * 1000 / len(found.timings)
                if run < 0:
                    continue
                replies = [t.reply * 1000 for t in found.timings if t.reply is not None]
                reply_p99 = percentile(replies, 99)
                samples.setdefault("floor_ack_p99_ms", []).append(floor_p99)
                samples.setdefault(f"find_answer_{name}_p50_ms", []).append(percentile(replies, 50))
                samples.setdefault(f"find_answer_{name}_p99_ms", []).append(reply_p99)
                samples.setdefault(f"find_answer_{name}_ratio", []).append(reply_p99 / floor_p99)
                samples.setdefault(f"find_cpu_{name}_ms", []).append(cpu_ms)
                samples.setdefault(f"loadgen_cpu_{name}_ms", []).append(loadgen_ms)
                samples.setdefault("loadgen_lag_p99_ms", []).append(found.lag_p99_ms)
            if run >= 0:
                samples.setdefault("floor_loadgen_cpu_ms", []).append(
                    floor_run.cpu_seconds * 1000 / len(floor_run.timings)
                )
    note = _load() + server_settings(database_url)
    return [
        Figure(f"answers_{metric}", scale, store, median(values), runs, note=note)
        for metric, values in samples.items()
    ]


def measure_log_throughput(
    *,
    scale: str,
    store: str,
    database_url: str,
    users: Sequence[str],
    runs: int,
    per_client: int = LOGS_PER_CLIENT,
) -> list[Figure]:
    """Medians over ``runs`` of logs processed per second, CPU ms per log (the server's, and the load
    generator's), and the lost and doubled."""
    count = CLIENTS * per_client
    slack = FakeSlack(token=BOT_TOKEN)
    samples: dict[str, list[float]] = {}
    with (
        slack,
        LoadGenerator(SIGNING_SECRET) as load,
        served_process("app", database_url, slack, APP_WORKERS) as (sender, process),
    ):
        for run in range(-1, runs):
            emails = Workload.sample(database_url, count, seed=run + 40).emails
            commands = [f"log {email} call bench-log-{run}-{i:05d}" for i, email in enumerate(emails)]
            before, own_before = cpu_seconds(process), own_cpu_seconds()
            found = load.nonstop(sender.url, commands, users)
            loadgen_s = found.cpu_seconds + own_cpu_seconds() - own_before
            stored, twice = _stored(database_url, f"bench-log-{run}-%")
            cpu_ms = (cpu_seconds(process) - before) * 1000 / max(len(stored), 1)
            if run < 0:
                continue
            samples.setdefault("log_processed_per_s", []).append(len(found.acked) / found.elapsed)
            samples.setdefault("log_cpu_ms", []).append(cpu_ms)
            samples.setdefault("log_loadgen_cpu_ms", []).append(loadgen_s * 1000 / len(commands))
            samples.setdefault("log_loadgen_lag_p99_ms", []).append(found.lag_p99_ms)
            samples.setdefault("log_refused", []).append(len(found.refused))
            # Acknowledged and never stored (a refused one may still be stored: acked too late).
            samples.setdefault("log_lost", []).append(
                sum(text.rsplit(" ", 1)[1] not in stored for _, text in found.acked)
            )
            samples.setdefault("log_twice", []).append(twice)
    _forget_logged(database_url)
    note = _load() + server_settings(database_url)
    figures = [Figure(m, scale, store, median(v), runs, note=note) for m, v in samples.items()]
    figures += [  # lost or doubled in any run counts, not the median
        Figure(f"{m}_total", scale, store, sum(samples[m]), runs, note=note)
        for m in ("log_lost", "log_twice", "log_refused")
    ]
    return figures


def _stored(database_url: str, pattern: str) -> tuple[set[str], int]:
    """The run's commands stored (their summaries), and how many of them more than once."""
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            rows = session.execute(
                select(Interaction.summary, func.count())
                .where(Interaction.summary.like(pattern))
                .group_by(Interaction.summary)
            ).all()
    finally:
        engine.dispose()
    return {summary for summary, _times in rows}, sum(1 for _summary, times in rows if times > 1)


def _forget_logged(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            session.execute(delete(Interaction).where(Interaction.summary.like("bench-log-%")))
    finally:
        engine.dispose()
