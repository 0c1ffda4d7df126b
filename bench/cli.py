"""One command for every benchmark, at the scales asked for; results go to docs/PERFORMANCE.md.

    python -m bench run                          # 10k and 100k, 5 runs each, SQLite
    python -m bench run --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench run --scales 1m --runs 3     # the million, once it is worth the wait
    python -m bench run --quick                  # a smoke test: 10k, 1 run, nothing written
    python -m bench report                       # redraw the report from bench/results.json

PostgreSQL runs use a database of their own per scale (``crm_bench_10k`` …), created if missing, so
they never touch the test suite's. ``lifetimes`` needs old pandas and numpy, so it lives in its own
virtual environment (``--lifetimes-python``; see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

from bench import analytics, answers, arrivals, bgnbd, churn, find_arrivals, imports, latency, search, startup
from bench.dataset import (
    BLOCK_CUSTOMERS,
    REPS,
    SCALES,
    SEED,
    bench_data,
    parse_scales,
    postgres_url,
    prepare_store,
    sqlite_url,
)
from bench.report import write_report
from bench.results import Figure, describe_machine, load_results, save_results

PARTS = (
    "startup",
    "import",
    "bgnbd",
    "search",
    "arrivals",
    "find_arrivals",
    "digests",
    "latency",
    "answers",
    "throughput",
    "churn",
)
# Slow to drive over HTTP; the targets do not ask for it at 1M.
LATENCY_MAX_CUSTOMERS = 100_000
DEFAULT_LIFETIMES_PYTHON = "/tmp/lt-venv/bin/python"
DEFAULT_PYMC_PYTHON = "/tmp/pymc-venv/bin/python"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure, then rewrite the report")
    run.add_argument("--scales", default="10k,100k", help=f"comma-separated, of {', '.join(SCALES)}")
    run.add_argument("--runs", type=int, default=5, help="runs per figure; the median is reported")
    run.add_argument("--quick", action="store_true", help="10k, one short run, print only")
    run.add_argument("--only", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    run.add_argument(
        "--postgres",
        default=os.environ.get("CRM_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server URL (any database); also CRM_BENCH_POSTGRES_URL",
    )
    run.add_argument(
        "--postgres-prefix",
        default="crm_bench",
        help="the benchmark's PostgreSQL databases are named PREFIX_SCALE (default crm_bench_10k, …)",
    )
    run.add_argument(
        "--lifetimes-python",
        default=os.environ.get("CRM_BENCH_LIFETIMES_PYTHON"),
        help=f"an interpreter with lifetimes installed (default {DEFAULT_LIFETIMES_PYTHON} if there)",
    )
    run.add_argument(
        "--pymc-python",
        default=os.environ.get("CRM_BENCH_PYMC_PYTHON"),
        help=f"an interpreter with pymc-marketing, for churn (default {DEFAULT_PYMC_PYTHON} if there)",
    )
    run.add_argument(
        "--backtest-store",
        action="append",
        default=[],
        metavar="URL",
        help="churn: also time `crm-bot analytics backtest` on this store, loaded already at the scale run "
        "(never loaded here; each run adds its audit record; repeatable)",
    )
    run.add_argument(
        "--search-queries",
        type=int,
        default=search.QUERIES_PER_RUN,
        help="name searches per run (fewer make the 1M scale bearable; p99 needs at least 100)",
    )
    run.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "crm-bench",
        help="where stores and CSVs are kept between runs",
    )
    commands.add_parser("report", help="rewrite docs/PERFORMANCE.md and the plot from bench/results.json")
    args = parser.parse_args(argv)
    if args.command == "report":
        write_report(load_results())
        return
    _run(args)


def _run(args: argparse.Namespace) -> None:
    scales = ["10k"] if args.quick else parse_scales(args.scales)
    parts = set(args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    figures: list[Figure] = []
    if "churn" in parts:
        figures += _compare_churn(args)
    for scale in scales:
        print(f"== {scale}: {SCALES[scale]:,} customers", flush=True)
        figures += _measure_scale(args, scale, parts)
    if args.quick:
        return
    results = load_results().merged(figures, machine)
    save_results(results)
    write_report(results)
    print("wrote bench/results.json, docs/PERFORMANCE.md and docs/performance.png")


def _interpreter(given: str | None, default: str) -> str | None:
    return given or (default if Path(default).exists() else None)


def _compare_churn(args: argparse.Namespace) -> list[Figure]:
    """Churn risk beside lifetimes and PyMC-Marketing on the reference sets, once per run (no scale)."""
    print("== churn risk on the reference sets", flush=True)
    began = time.perf_counter()
    figures = churn.compare(
        runs=1 if args.quick else args.runs,
        workdir=args.workdir,
        lifetimes_python=_interpreter(args.lifetimes_python, DEFAULT_LIFETIMES_PYTHON),
        pymc_python=None if args.quick else _interpreter(args.pymc_python, DEFAULT_PYMC_PYTHON),
        sets=("cdnow",) if args.quick else churn.SETS,
    )
    print(f"  churn comparison ({time.perf_counter() - began:.0f} s)", flush=True)
    for figure in figures:  # the rankings, scores and times; the rest is in bench/results.json
        if figure.metric.endswith(("_auc", "_brier", "_fit_s", "_backtest_s", "_load")):
            shown = f"    {figure.metric} [{figure.scale}] = {figure.value:,.4f} {figure.note}"
            print(shown.rstrip(), flush=True)
    return figures


def _measure_scale(args: argparse.Namespace, scale: str, parts: set[str]) -> list[Figure]:
    customers = SCALES[scale]
    runs = 1 if args.quick else args.runs
    # Made when a part needs it; above BLOCK_CUSTOMERS the stores are written block by block, never whole.
    data = cache(partial(bench_data, customers, SEED))
    lifetimes = _interpreter(args.lifetimes_python, DEFAULT_LIFETIMES_PYTHON)
    figures: list[Figure] = []

    def step(name: str, measure: Callable[[], list[Figure]]) -> None:
        began = time.perf_counter()
        measured = measure()
        print(f"  {name} ({time.perf_counter() - began:.0f} s)", flush=True)
        for figure in measured:
            print(f"    {figure.metric} = {figure.value:,.3f} {figure.note}".rstrip(), flush=True)
        figures.extend(measured)

    if "startup" in parts and scale == startup.SCALE:
        step("crm-bot --help", partial(startup.measure, runs=runs))
    if "import" in parts:
        step(
            "import",
            partial(imports.measure, scale=scale, rows=customers, runs=runs, workdir=args.workdir, seed=SEED),
        )
    if "bgnbd" in parts:
        step(
            "bgnbd",
            partial(
                bgnbd.measure,
                scale=scale,
                data=data(),
                runs=runs,
                workdir=args.workdir,
                lifetimes_python=lifetimes,
            ),
        )
    if "churn" in parts:
        step(
            "churn: return model and backtest",
            partial(churn.measure_scale, scale=scale, data=data(), runs=runs),
        )
        for url in args.backtest_store:
            step(
                "churn: `crm-bot analytics backtest`",
                partial(churn.measure_cli, scale=scale, database_url=url, runs=runs),
            )
    stores = {"sqlite": sqlite_url(args.workdir, scale)}
    if args.postgres:
        stores["postgresql"] = postgres_url(args.postgres, scale, args.postgres_prefix)
    quick = args.quick
    # Each part on a loaded store: its title, its measure (called with scale, store, database_url,
    # runs), what else it takes, and the largest scale it runs at.
    store_parts: dict[str, tuple[str, Callable[..., list[Figure]], dict[str, object], float]] = {
        "search": (
            "search",
            search.measure,
            {"count": 100 if quick else args.search_queries},
            float("inf"),
        ),
        "arrivals": ("search while customers arrive", arrivals.measure, {}, float("inf")),
        "find_arrivals": (
            "/crm find answers while customers arrive",
            find_arrivals.measure,
            {"users": REPS, "per_person": 5 if quick else find_arrivals.FINDS_PER_PERSON},
            float("inf"),
        ),
        "digests": ("digests", analytics.measure, {}, float("inf")),
        "latency": (
            "latency",
            latency.measure,
            {"users": REPS, "per_client": 3 if quick else latency.REQUESTS_PER_CLIENT},
            LATENCY_MAX_CUSTOMERS,
        ),
    }
    for store, url in stores.items():
        if not parts & {*store_parts, "answers", "throughput"}:
            break
        prepare_store(url, data() if customers <= BLOCK_CUSTOMERS else customers)
        for part, (title, measure, extra, max_customers) in store_parts.items():
            if part in parts and customers <= max_customers:
                step(
                    f"{title} {store}",
                    partial(measure, scale=scale, store=store, database_url=url, runs=runs, **extra),
                )
        if customers <= LATENCY_MAX_CUSTOMERS:
            _measure_answers(args, scale, store, url, parts, step)
    return figures


def _measure_answers(
    args: argparse.Namespace, scale: str, store: str, url: str, parts: set[str], step: Callable[..., None]
) -> None:
    """Issue 13's answers (find until its reply) and log throughput, in separate server runs."""
    runs = 1 if args.quick else args.runs
    measured = {
        "answers": ("answers", answers.measure_answers, 3, latency.REQUESTS_PER_CLIENT),
        "throughput": ("log throughput", answers.measure_log_throughput, 5, answers.LOGS_PER_CLIENT),
    }
    for part, (title, measure, quick_count, full_count) in measured.items():
        if part in parts:
            step(
                f"{title} {store}",
                partial(
                    measure,
                    scale=scale,
                    store=store,
                    database_url=url,
                    runs=runs,
                    users=REPS,
                    per_client=quick_count if args.quick else full_count,
                ),
            )
