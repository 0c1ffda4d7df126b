"""Replicas as real processes for the exactly-once drills: start one, read its one-line JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROCESS_SECONDS = 60


def start_replica(module: str, *argv: str) -> subprocess.Popen[str]:
    """``python -m module argv…`` from the project root, its stdin kept open so a test can signal it."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The replica's report: the last line it printed, once it has exited cleanly."""
    out, _ = process.communicate(timeout=PROCESS_SECONDS)
    assert process.returncode == 0, out
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report
