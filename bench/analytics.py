"""Analytics plus every digest, timed with peak memory, one fresh process per measurement.

The morning's work as the digest sender does it (``take_snapshot``): load the store once, the
purchases' models fitted while the contacts are read ("load"), score every customer today and a
week ago ("analytics"), then each team member's digest and its Block Kit rendering ("digests").
Each measurement runs in a new process and reports its peak resident memory (tracemalloc would
slow a million customers down several times); the memory of the interpreter and imports alone is
reported too, so the share of the work is visible.

    python -m bench.analytics DATABASE_URL     # one measurement, as JSON on stdout
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from bench.import_bench import TODAY
from bench.results import Figure
from bench.stats import median
from bot.blocks.digest import digest_fallback, render_digest
from bot.messages import language_of
from crm_core.analytics.load import load_histories, read_names, read_notes
from crm_core.digest.content import digest_for, snapshot_from_prepared
from crm_core.store import make_engine, transaction
from crm_core.team.service import list_members


def _peak_mib() -> float:
    """This process's peak resident memory.

    Linux's VmHWM, not ``ru_maxrss``: the latter survives fork and exec, so a child started by a
    benchmark holding 100k customers' data would report the parent's peak as its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def probe(database_url: str) -> dict[str, float]:
    """Seconds for loading, scoring and the digests (wall and this process's CPU), and peak memory
    before and after, in MiB."""
    baseline = _peak_mib()
    engine = make_engine(database_url)
    began, began_cpu = time.perf_counter(), time.process_time()
    with transaction(engine) as session:
        members = list_members(session)
        # As ``take_snapshot`` does, in two steps to time them apart.
        prepared = load_histories(session, today=TODAY)
        loaded, loaded_cpu = time.perf_counter(), time.process_time()
        names, notes = partial(read_names, session), partial(read_notes, session)
        snapshot = snapshot_from_prepared(prepared, local_date=TODAY, names=names, notes=notes)
        scored, scored_cpu = time.perf_counter(), time.process_time()
    blocks = 0
    for member in members:
        digest = digest_for(snapshot, member)
        language = language_of(member.effective_locale)
        blocks += len(render_digest(digest, language=language))
        digest_fallback(digest, language=language)
    done, done_cpu = time.perf_counter(), time.process_time()
    engine.dispose()
    return {
        "load_s": loaded - began,
        "analytics_s": scored - loaded,
        "digests_s": done - scored,
        "total_s": done - began,
        "peak_mib": _peak_mib(),
        # This process's CPU seconds per phase: on a shared machine wall times move with the load.
        "load_cpu_s": loaded_cpu - began_cpu,
        "analytics_cpu_s": scored_cpu - loaded_cpu,
        "digests_cpu_s": done_cpu - scored_cpu,
        "baseline_mib": baseline,
        "members": float(len(members)),
        "blocks": float(blocks),
    }


def measure(*, scale: str, store: str, database_url: str, runs: int) -> list[Figure]:
    """Medians over ``runs`` fresh processes."""
    measured = []
    for _ in range(runs):
        child = subprocess.run(
            [sys.executable, "-m", "bench.analytics", database_url],
            capture_output=True,
            text=True,
            check=True,
        )
        measured.append(json.loads(child.stdout))
    members = int(measured[0]["members"])
    return [
        Figure(
            f"digests_{name}",
            scale,
            store,
            median([m[name] for m in measured]),
            runs,
            note=f"{members} members",
        )
        for name in ("load_s", "analytics_s", "digests_s", "total_s", "peak_mib", "baseline_mib")
    ]


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
