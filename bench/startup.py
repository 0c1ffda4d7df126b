"""How long ``crm-bot --help`` takes (issue 13, item 5): what a newcomer meets before any command.

Each run starts the installed ``crm-bot`` script in a fresh process, as a shell does, and times it
until it exits; its CPU time comes from the kernel's accounting of the finished child, so another
program on a shared machine moves the wall-clock figure but not the CPU one. The store does not
matter (help opens none), so the figures carry no scale's data; they are filed under the 10k scale
that every run measures.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.results import Figure
from bench.stats import median

SCALE = "10k"


def _crm_bot() -> str:
    """The console script beside this interpreter (the project's venv), as users run it."""
    script = Path(sys.executable).with_name("crm-bot")
    if not script.exists():
        raise SystemExit(f"{script} is missing: install the project into this interpreter's venv")
    return str(script)


def _one_run(script: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one ``crm-bot --help``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    finished = subprocess.run(
        [script, "--help"], capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0 or "Usage:" not in finished.stdout:
        raise SystemExit(f"crm-bot --help failed ({finished.returncode}): {finished.stderr.strip()[:200]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(*, runs: int) -> list[Figure]:
    """Medians over ``runs`` starts, after one untimed start that warms the file cache."""
    script = _crm_bot()
    _one_run(script)
    measured = [_one_run(script) for _ in range(max(runs, 5))]
    load = os.getloadavg()[0]
    note = f"load average {load:.1f}"
    return [
        Figure("cli_help_s", SCALE, "", median([wall for wall, _ in measured]), len(measured), note=note),
        Figure("cli_help_cpu_s", SCALE, "", median([cpu for _, cpu in measured]), len(measured), note=note),
    ]
