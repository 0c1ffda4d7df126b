"""Measured figures, kept in ``bench/results.json`` so runs at different scales add up to one report.

A run replaces the figures it measured (same metric, scale and store) and leaves the others, so the
slow 1M scale can be measured once and the smaller ones re-run as often as wanted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_FILE = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    """One measured number: the median over ``runs`` runs, unless ``note`` says otherwise."""

    metric: str
    scale: str
    store: str  # "sqlite", "postgresql", or "" where no store is involved
    value: float
    runs: int
    measured_on: str = dataclasses.field(default_factory=lambda: dt.date.today().isoformat())
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.metric, self.scale, self.store)


@dataclass(frozen=True)
class Results:
    machine: dict[str, str]
    figures: tuple[Figure, ...]

    def get(self, metric: str, scale: str, store: str = "") -> Figure | None:
        return next((f for f in self.figures if f.key == (metric, scale, store)), None)

    def merged(self, new: list[Figure], machine: dict[str, str]) -> Results:
        replaced = {figure.key for figure in new}
        kept = [figure for figure in self.figures if figure.key not in replaced]
        return Results(machine, tuple(kept + new))


def load_results(path: Path = RESULTS_FILE) -> Results:
    if not path.exists():
        return Results({}, ())
    raw: dict[str, Any] = json.loads(path.read_text())
    return Results(raw["machine"], tuple(Figure(**figure) for figure in raw["figures"]))


def save_results(results: Results, path: Path = RESULTS_FILE) -> None:
    figures = sorted(results.figures, key=lambda f: (f.metric, f.store, f.scale))
    document = {"machine": results.machine, "figures": [dataclasses.asdict(f) for f in figures]}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


def describe_machine() -> dict[str, str]:
    """What the figures were measured on: processor, cores, memory, software, and how busy it was."""
    lscpu = _command(["lscpu"])
    model = re.search(r"Model name:\s*(.+)", lscpu)
    memory = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
    return {
        "date": dt.date.today().isoformat(),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "nproc": _command(["nproc"]).strip(),
        "memory_gib": f"{int(memory.group(1)) / 2**20:.1f}" if memory else "?",
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _command(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
