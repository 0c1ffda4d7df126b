"""The BG/NBD fit: does it find the parameters the data were drawn with, and how fast is it?

The demo generator draws purchases from a BG/NBD process with known parameters
(``PurchaseModel``), so the fit can be checked against the truth. As a control, the fit also runs on
a summary drawn straight from the model's definition (``exact_summary``): if that one recovers the
truth and the generator's data do not, the generator strays from the model. The same per-customer summary
(x, t_x, T in days) is written to CSV and fitted by ``lifetimes``' BetaGeoFitter in its own
interpreter (``bench/lifetimes_fit.py``); only the fits are timed, on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.import_bench import TODAY
from bench.results import Figure
from bench.stats import median
from crm_core.analytics.bgnbd import bgnbd_summary, fit_bgnbd
from crm_core.analytics.history import PurchaseDays
from crm_core.demo.generator import HISTORY_DAYS, DemoData, PurchaseModel

LIFETIMES_SCRIPT = Path(__file__).resolve().parent / "lifetimes_fit.py"
PARAMETERS = ("r", "alpha", "a", "b")


def summary_of(data: DemoData) -> pd.DataFrame:
    """x, t_x and T per buyer, as ``score_customers`` computes them from the store."""
    purchases = pd.DataFrame(
        {
            "customer_id": data.purchases["customer"].cat.codes.astype("int64"),
            "occurred_at": data.purchases["occurred_at"],
            "amount": data.purchases["amount"].astype("float64"),
        }
    )
    return bgnbd_summary(PurchaseDays.from_purchases(purchases), TODAY)


def exact_summary(model: PurchaseModel, buyers: int, seed: int) -> pd.DataFrame:
    """x, t_x, T drawn as Fader, Hardie & Lee define BG/NBD, first purchases spread like the demo's.

    While alive a buyer makes Poisson(λT) repeat purchases; after each repeat they drop out with
    probability p, so they make at most Geometric(p) of them. Given k Poisson arrivals in [0, T],
    the x-th is T times a Beta(x, k - x + 1) variable.
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(model.r, 1 / model.alpha, size=buyers)
    dropout = rng.beta(model.a, model.b, size=buyers)
    T = HISTORY_DAYS * (1 - rng.random(buyers))
    arrivals = rng.poisson(rate * T)
    x = np.minimum(arrivals, rng.geometric(dropout))
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return pd.DataFrame({"x": x.astype("float64"), "t_x": t_x, "T": T})


def _fit_seconds(summary_csv: Path, runs: int) -> dict[str, object]:
    """Child process: time ``fit_bgnbd`` on the CSV ``runs`` times; JSON like lifetimes_fit.py's."""
    summary = pd.read_csv(summary_csv)
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        fit = fit_bgnbd(summary)
        seconds.append(time.perf_counter() - began)
    params = {name: getattr(fit.params, name) for name in PARAMETERS} if fit else {}
    return {"seconds": seconds, "params": params}


def _timed_fits(argv: list[str], blas_threads: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = blas_threads
    child = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    result: dict[str, Any] = json.loads(child.stdout)
    return result


def measure(
    *, scale: str, data: DemoData, runs: int, workdir: Path, lifetimes_python: str | None
) -> list[Figure]:
    """Our fit against the truth, its time, and lifetimes' time on the same summary, if it is there.

    Every fit runs in a fresh process, as shipped (OpenBLAS picks its threads) and with
    OPENBLAS_NUM_THREADS=1: on a busy two-core machine, each BLAS call that wakes a second thread can
    wait for a scheduler slice, which matters for fits that make many small BLAS calls. The sides
    take turns run by run, so a burst of load from other work lands on both rather than on one.
    """
    summary = summary_of(data)
    csv = workdir / f"bgnbd-summary-{scale}.csv"
    summary.to_csv(csv, index=False)
    sides = {"bgnbd": [sys.executable, "-m", "bench.bgnbd", str(csv), "1"]}
    if lifetimes_python:
        sides["lifetimes"] = [lifetimes_python, str(LIFETIMES_SCRIPT), str(csv), "1"]
    variants = (("", None), ("_1blas", "1"))
    seconds: dict[tuple[str, str], list[float]] = {(side, v): [] for side in sides for v, _ in variants}
    fitted: dict[str, dict[str, float]] = {}
    loads = []
    for _ in range(runs):
        for variant, threads in variants:
            for side, argv in sides.items():
                loads.append(os.getloadavg()[0])
                result = _timed_fits(argv, threads)
                seconds[side, variant] += result["seconds"]
                fitted[side] = result["params"]
    medians = {key: median(values) for key, values in seconds.items()}
    figures = [
        Figure(f"{side}_fit{variant}_s", scale, "", medians[side, variant], runs) for side, variant in medians
    ]
    if lifetimes_python:
        load = f"load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores"
        for variant, _ in variants:
            speedup = medians["lifetimes", variant] / medians["bgnbd", variant]
            figures.append(Figure(f"bgnbd_speedup{variant}", scale, "", speedup, runs, note=load))
    truth = PurchaseModel()
    control = fit_bgnbd(exact_summary(truth, len(summary), seed=len(summary)))
    for name in PARAMETERS:
        note = f"truth {getattr(truth, name):g}"
        for side, params in fitted.items():
            figures.append(Figure(f"{side}_{name}", scale, "", params[name], 1, note=note))
        if control is not None:
            figures.append(Figure(f"bgnbd_control_{name}", scale, "", getattr(control.params, name), 1))
    figures.append(Figure("bgnbd_buyers", scale, "", float(len(summary)), 1))
    return figures


if __name__ == "__main__":
    print(json.dumps(_fit_seconds(Path(sys.argv[1]), int(sys.argv[2]))))
