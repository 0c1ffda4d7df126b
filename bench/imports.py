"""Import rows per second at each scale, with ``bench/import_bench.py``'s own file maker and run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.import_bench import make_files, run_once
from bench.results import Figure
from bench.stats import median


def measure(*, scale: str, rows: int, runs: int, workdir: Path, seed: int) -> list[Figure]:
    """Median rows per second (wall clock, and per CPU second of this process) over ``runs``
    imports of a ``rows``-purchase CSV, each into a fresh SQLite store."""
    with tempfile.TemporaryDirectory(prefix="import-", dir=workdir) as temporary:
        directory = Path(temporary)
        customers_csv, purchases_csv = make_files(directory, rows, seed)
        measured = [
            run_once(directory / f"store-{run}.sqlite3", customers_csv, purchases_csv, rows)
            for run in range(runs)
        ]
    note = f"{rows:,} purchases"
    return [
        Figure(
            "import_rows_per_s", scale, "sqlite", median([rows / m.total for m in measured]), runs, note=note
        ),
        Figure(
            "import_rows_per_cpu_s",
            scale,
            "sqlite",
            median([rows / m.cpu for m in measured]),
            runs,
            note=note,
        ),
    ]
