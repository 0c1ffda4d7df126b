"""Import speed: a purchases CSV made by the demo generator, into a fresh SQLite store, in rows/s.

What is timed is what ``crm-bot import purchases FILE`` does once started: read the file, validate
every row, write, commit (``read_table`` + ``import_table`` in one transaction, the functions the
CLI calls). The customers the purchases refer to are generated and imported first, untimed.

    python bench/import_bench.py                 # 1,000,000 rows, one run
    python bench/import_bench.py --rows 200000 --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crm_core.actor import Actor
from crm_core.demo.generator import generate_demo_data
from crm_core.io.importer import import_table
from crm_core.io.source import read_table
from crm_core.store import make_engine, transaction, upgrade

ACTOR = Actor(user_id="bench", surface="import")
TODAY = dt.date(2026, 11, 25)
NOW = dt.datetime.combine(TODAY, dt.time(23, 59), tzinfo=dt.UTC)  # the import's "today"
PURCHASES_PER_CUSTOMER_GUESS = 4.0


def make_files(directory: Path, rows: int, seed: int) -> tuple[Path, Path]:
    """customers.csv and purchases.csv with exactly ``rows`` purchases, all of known customers."""
    customers = math.ceil(rows / PURCHASES_PER_CUSTOMER_GUESS)
    while True:
        data = generate_demo_data(customers=customers, seed=seed, today=TODAY)
        if len(data.purchases) >= rows:
            break
        customers = math.ceil(customers * 1.25 * rows / max(len(data.purchases), 1))
    customers_csv, purchases_csv = directory / "customers.csv", directory / "purchases.csv"
    data.customers.to_csv(customers_csv, index=False)
    data.purchases.head(rows).to_csv(purchases_csv, index=False)
    return customers_csv, purchases_csv


@dataclass(frozen=True)
class Run:
    """Wall-clock seconds (reading the file, and the whole import) and this process's CPU seconds,
    which other programs on a shared machine do not inflate (SQLite runs inside this process)."""

    read: float
    total: float
    cpu: float


def run_once(store: Path, customers_csv: Path, purchases_csv: Path, rows: int) -> Run:
    engine = make_engine(f"sqlite:///{store}")
    upgrade(engine)
    with transaction(engine) as session:
        import_table(session, entity="customers", table=read_table(customers_csv), actor=ACTOR, now=NOW)
    started, cpu_started = time.perf_counter(), time.process_time()
    with transaction(engine) as session:
        table = read_table(purchases_csv)
        read = time.perf_counter() - started
        report = import_table(session, entity="purchases", table=table, actor=ACTOR, now=NOW)
    run = Run(read=read, total=time.perf_counter() - started, cpu=time.process_time() - cpu_started)
    engine.dispose()
    if report.new != rows or report.rejected:
        raise SystemExit(f"benchmark import went wrong: {report.new} new, {report.rejected} rejected")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="purchases in the file")
    parser.add_argument(
        "--runs", type=int, default=1, help="runs, each into a fresh store; the median counts"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}, {dt.date.today().isoformat()}"
    )
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as temporary:
        directory = Path(temporary)
        started = time.perf_counter()
        customers_csv, purchases_csv = make_files(directory, args.rows, args.seed)
        size = purchases_csv.stat().st_size / 2**20
        print(f"generated {args.rows:,} purchases ({size:.0f} MiB) in {time.perf_counter() - started:.1f} s")
        runs = []
        for number in range(1, args.runs + 1):
            run = run_once(directory / f"store-{number}.sqlite3", customers_csv, purchases_csv, args.rows)
            runs.append(run)
            print(
                f"run {number}: {run.total:.1f} s (reading {run.read:.1f} s) = {args.rows / run.total:,.0f} "
                f"rows/s; {run.cpu:.1f} CPU s = {args.rows / run.cpu:,.0f} rows per CPU second"
            )
    wall = statistics.median(args.rows / run.total for run in runs)
    cpu = statistics.median(args.rows / run.cpu for run in runs)
    print(
        f"median of {args.runs} run(s) of {args.rows:,} rows: {wall:,.0f} rows/s ({cpu:,.0f} per CPU second)"
    )


if __name__ == "__main__":
    main()
