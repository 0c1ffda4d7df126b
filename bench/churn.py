"""Churn risk against lifetimes and PyMC-Marketing on the same data, and the return model's cost at scale.

``compare``: on four sets, each scored as of a date and judged on who bought at least once in the
90 days after it (as ``crm-bot analytics backtest`` does), our ``p_return_90d`` (MBG/NBD recalibrated
on the store's own history, ``crm_core/analytics/returning.py``) beside lifetimes' BG/NBD, MBG/NBD and
Pareto/NBD (in their own interpreter, ``bench/lifetimes_fit.py``) and PyMC-Marketing's BG/NBD, MBG/NBD
and Pareto/NBD fitted by MAP (in another, ``bench/pymc_fit.py``; skipped with a note when absent).
Every model gets the same per-customer summary (x, t_x, T in days as of the date) and is judged on
the same outcome: ROC AUC and Brier score of its chance of at least one purchase in the horizon,
the AUC of its expected purchases, and its fit time. Only ours has levels; their return rates are
reported too.

The sets (figures carry the set's name where other parts carry a scale):
- ``cdnow``: the CDNOW sample of the BG/NBD paper (tests/data), 1997-09-30;
- ``regular``: regular buyers (``crm_core/demo/regular.py``), 5,000, seed 1;
- ``bgnbd_sim``: the demo generator's BG/NBD purchases, 5,000 customers, seed 1;
- ``demo``: the demo data as ``crm-bot demo-data`` makes it (300 customers, seed 1).
The generated sets end on the benchmark's today and are scored 90 days before it.

``measure_scale``: the return model's fit and the whole backtest (fit, scoring, judging) on the
benchmark's data at a scale, in memory; ``measure_cli``: ``crm-bot analytics backtest --json``
against a store that is already loaded (never loaded here; each run adds its audit record).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import func, make_url, select

from bench.dataset import SCALES
from bench.import_bench import TODAY
from bench.results import Figure
from bench.stats import median
from crm_core.analytics.backtest import Backtest, area_under_curve, backtest
from crm_core.analytics.bgnbd import bgnbd_summary
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.returning import HORIZON_DAYS, fit_return_model
from crm_core.demo.generator import DemoData, generate_demo_data
from crm_core.demo.regular import regular_purchases
from crm_core.models import Customer
from crm_core.store import make_engine, transaction

HERE = Path(__file__).resolve().parent
CDNOW_SAMPLE = HERE.parent / "tests" / "data" / "CDNOW_sample.txt"
CDNOW_DATE = dt.date(1997, 9, 30)
LIFETIMES_SCRIPT = HERE / "lifetimes_fit.py"
PYMC_SCRIPT = HERE / "pymc_fit.py"
SETS = ("cdnow", "regular", "bgnbd_sim", "demo")
# The models each library fits (lifetimes_fit.py and pymc_fit.py name them so in their output).
MODELS = ("bgnbd", "mbgnbd", "pareto")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ChurnSet:
    name: str
    customers: pd.DataFrame
    purchases: PurchaseDays
    contacts: ContactDays
    date: dt.date


def cdnow() -> ChurnSet:
    raw = pd.read_csv(
        CDNOW_SAMPLE, sep=r"\s+", header=None, usecols=[1, 2, 4], names=["customer_id", "date", "amount"]
    )
    frame = raw.assign(occurred_at=pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"))
    ids = np.unique(frame["customer_id"].to_numpy())
    return ChurnSet(
        "cdnow",
        pd.DataFrame({"customer_id": ids}),
        PurchaseDays.from_purchases(frame[["customer_id", "occurred_at", "amount"]]),
        _no_contacts(),
        CDNOW_DATE,
    )


def regular(customers: int = 5_000, seed: int = 1) -> ChurnSet:
    rows = regular_purchases(customers=customers, today=TODAY, seed=seed)
    return ChurnSet(
        "regular",
        pd.DataFrame({"customer_id": np.arange(1, customers + 1, dtype="int64")}),
        PurchaseDays.from_purchases(rows),
        _no_contacts(),
        TODAY - dt.timedelta(days=HORIZON_DAYS),
    )


def generated(name: str, customers: int, seed: int = 1) -> ChurnSet:
    """The demo generator's customers, purchases and interactions, by integer ids."""
    customers_frame, purchases, interactions = demo_frames(
        generate_demo_data(customers=customers, seed=seed, today=TODAY)
    )
    return ChurnSet(
        name,
        customers_frame,
        PurchaseDays.from_purchases(purchases),
        ContactDays.from_interactions(interactions),
        TODAY - dt.timedelta(days=HORIZON_DAYS),
    )


def demo_frames(data: DemoData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customers 1…n in the generator's order, with their purchases and interactions by those ids."""
    external = data.customers["external_id"]

    def ids(column: pd.Series) -> np.ndarray:
        # Through the categories (a few per customer), not the rows: 10M interactions at 1M.
        position = pd.Index(external).get_indexer(column.cat.categories.astype(str))
        ids: np.ndarray = position[column.cat.codes.to_numpy()].astype("int64") + 1
        return ids

    purchases = pd.DataFrame(
        {
            "customer_id": ids(data.purchases["customer"]),
            "occurred_at": data.purchases["occurred_at"].astype("datetime64[ns]"),
            "amount": data.purchases["amount"].astype("float64"),
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": ids(data.interactions["customer"]),
            "occurred_at": data.interactions["occurred_at"].astype("datetime64[ns]"),
        }
    )
    customers = pd.DataFrame({"customer_id": np.arange(1, len(external) + 1, dtype="int64")})
    return customers, purchases, interactions


def _no_contacts() -> ContactDays:
    return ContactDays.from_interactions(
        pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="int64"),
                "occurred_at": pd.Series([], dtype="datetime64[ns]"),
            }
        )
    )


def load_set(name: str) -> ChurnSet:
    if name == "cdnow":
        return cdnow()
    if name == "regular":
        return regular()
    return generated(name, 5_000 if name == "bgnbd_sim" else 300)


def outcome(churn_set: ChurnSet, summary: pd.DataFrame) -> np.ndarray:
    """1.0 for each summarised customer who bought on a later day within the horizon, else 0.0."""
    end = churn_set.date + dt.timedelta(days=HORIZON_DAYS)
    days_then = churn_set.purchases.until(churn_set.date).per_customer["purchase_days"]
    days_after = churn_set.purchases.until(end).per_customer["purchase_days"]
    then = days_then.reindex(summary.index).to_numpy()
    after = days_after.reindex(summary.index).to_numpy()
    return (after > then).astype(np.float64)


def _ours(churn_set: ChurnSet, runs: int) -> tuple[Backtest, list[float], list[float]]:
    """The backtest, and the seconds of the return model's fit and of the whole backtest, per run."""
    fits, backtests = [], []
    report = None
    for _ in range(runs):
        began = time.perf_counter()
        fit_return_model(churn_set.purchases, churn_set.date)
        fits.append(time.perf_counter() - began)
        began = time.perf_counter()
        report = backtest(churn_set.customers, churn_set.purchases, churn_set.contacts, date=churn_set.date)
        backtests.append(time.perf_counter() - began)
    if report is None:
        raise SystemExit(f"{churn_set.name}: too few repeat buyers to fit the return model")
    return report, fits, backtests


def _foreign(argv: list[str], predictions: Path, **env_vars: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run a fitting script in its own interpreter; its JSON report and per-customer predictions."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", **env_vars)
    child = subprocess.run(argv, capture_output=True, text=True, env=env)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{child.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report, pd.read_csv(predictions)


def _judged(
    name: str,
    label: str,
    predictions: pd.DataFrame,
    returned: np.ndarray,
    fitted: dict[str, Any],
    note: list[str],
) -> list[Figure]:
    """AUC and Brier of a model's chance, AUC of its expected purchases, and its fit time (the note
    holds its parameters and the library's versions)."""
    model = label.split("_", 1)[1]
    chance = predictions[f"{model}_p_purchase"].to_numpy(dtype=np.float64)
    expected = predictions[f"{model}_expected"].to_numpy(dtype=np.float64)
    # lifetimes' Pareto/NBD overflows (NaN) for some customers when its fit runs to extreme parameters;
    # they are left out of its figures, and counted.
    finite = np.isfinite(chance) & np.isfinite(expected)
    chance, expected, returned = chance[finite], expected[finite], returned[finite]
    auc = area_under_curve(chance, returned)
    expected_auc = area_under_curve(expected, returned)
    fit = [float(s) for s in fitted["seconds"]]
    params = ", ".join(f"{k} {v:.4g}" for k, v in fitted["params"].items())
    figures = [
        Figure(f"churn_{label}_brier", name, "", float(np.mean((chance - returned) ** 2)), 1),
        Figure(f"churn_{label}_fit_s", name, "", median(fit), len(fit), note="; ".join([params, *note])),
    ]
    if not finite.all():
        figures.append(Figure(f"churn_{label}_undefined", name, "", float((~finite).sum()), 1))
    if auc is not None:
        figures.append(Figure(f"churn_{label}_auc", name, "", auc, 1))
    if expected_auc is not None:
        figures.append(Figure(f"churn_{label}_expected_auc", name, "", expected_auc, 1))
    return figures


def compare_set(
    churn_set: ChurnSet,
    *,
    runs: int,
    workdir: Path,
    lifetimes_python: str | None,
    pymc_python: str | None,
) -> list[Figure]:
    """Every model's figures on one set, under the set's name."""
    name = churn_set.name
    summary = bgnbd_summary(churn_set.purchases, churn_set.date)
    returned = outcome(churn_set, summary)
    report, fits, backtests = _ours(churn_set, runs)
    if report.customers != len(summary) or report.returned != int(returned.sum()):
        raise SystemExit(f"{name}: the backtest judged other customers than the summary holds")
    base = report.base_rate
    figures = [
        Figure("churn_buyers", name, "", float(report.customers), 1, note=f"scored as of {churn_set.date}"),
        Figure("churn_base_rate", name, "", base, 1),
        Figure("churn_base_brier", name, "", report.base_rate_brier, 1),
        Figure("churn_ours_brier", name, "", report.brier, 1),
        Figure("churn_ours_fit_s", name, "", median(fits), runs),
        Figure("churn_ours_backtest_s", name, "", median(backtests), runs),
        Figure("churn_ours_levels_ordered", name, "", float(report.levels_ordered), 1),
        Figure("churn_ours_list_share", name, "", report.at_risk_list.share, 1),
    ]
    if report.auc is not None:
        figures.append(Figure("churn_ours_auc", name, "", report.auc, 1))
    for level in report.levels:
        figures.append(Figure(f"churn_ours_{level.level}_customers", name, "", float(level.customers), 1))
        if level.returned_rate is not None:
            figures.append(Figure(f"churn_ours_{level.level}_returned", name, "", level.returned_rate, 1))
    for what in ("precision", "recall"):
        value = getattr(report.at_risk_list, what)
        if value is not None:
            figures.append(Figure(f"churn_ours_list_{what}", name, "", value, 1))
    csv = workdir / f"churn-summary-{name}.csv"
    summary[["x", "t_x", "T"]].to_csv(csv, index=False)
    foreign = []
    if lifetimes_python:
        foreign.append(("lifetimes", MODELS, [lifetimes_python, str(LIFETIMES_SCRIPT), str(csv), str(runs)]))
    if pymc_python:
        foreign.append(("pymc", MODELS, [pymc_python, str(PYMC_SCRIPT), str(csv)]))
    for library, models, argv in foreign:
        predictions_csv = workdir / f"churn-{library}-{name}.csv"
        fitted, predictions = _foreign([*argv, str(HORIZON_DAYS), str(predictions_csv)], predictions_csv)
        versions = [", ".join(f"{k} {v}" for k, v in fitted.get("versions", {}).items())]
        for model in models:
            figures += _judged(name, f"{library}_{model}", predictions, returned, fitted[model], versions)
    if pymc_python and name == "cdnow":
        figures.append(_pymc_cold_fit(pymc_python, csv, workdir))
    return figures


def _pymc_cold_fit(pymc_python: str, csv: Path, workdir: Path) -> Figure:
    """PyMC-Marketing's BG/NBD fit as a first-time user meets it: PyTensor compiles into an empty
    cache (a directory of its own, removed after), not the warm one the other fits use."""
    with tempfile.TemporaryDirectory(dir=workdir) as compiledir:
        predictions = workdir / "churn-pymc-cold.csv"
        argv = [pymc_python, str(PYMC_SCRIPT), str(csv), str(HORIZON_DAYS), str(predictions), "bgnbd"]
        fitted, _ = _foreign(argv, predictions, PYTENSOR_FLAGS=f"compiledir={compiledir}")
    return Figure("churn_pymc_bgnbd_cold_fit_s", "cdnow", "", float(fitted["bgnbd"]["seconds"][0]), 1)


def compare(
    *,
    runs: int,
    workdir: Path,
    lifetimes_python: str | None,
    pymc_python: str | None,
    sets: tuple[str, ...] = SETS,
) -> list[Figure]:
    """``compare_set`` on every set; the missing libraries are said once, not silently left out."""
    if not lifetimes_python:
        print("  lifetimes not found (--lifetimes-python): its models are left out", flush=True)
    if not pymc_python:
        print("  PyMC-Marketing not found (--pymc-python): its model is left out", flush=True)
    figures = []
    for name in sets:
        began = time.perf_counter()
        load = os.getloadavg()[0]
        measured = compare_set(
            load_set(name),
            runs=runs,
            workdir=workdir,
            lifetimes_python=lifetimes_python,
            pymc_python=pymc_python,
        )
        print(f"    {name}: {len(measured)} figures in {time.perf_counter() - began:.0f} s", flush=True)
        load = max(load, os.getloadavg()[0])
        note = f"load average up to {load:.1f} on {os.cpu_count()} cores"
        figures += [*measured, Figure("churn_load", name, "", load, 1, note=note)]
    return figures


def measure_scale(*, scale: str, data: DemoData, runs: int) -> list[Figure]:
    """The return model and the backtest on the benchmark's data at ``scale``, in memory.

    Aggregating the frames to days (what ``crm-bot analytics backtest`` does after loading) is timed
    on its own; the fit is the return model's (MBG/NBD as of the date and 90 days before, and the
    calibration); the backtest fits it again, scores, levels and judges every buyer.
    """
    customers, purchases, interactions = demo_frames(data)
    date = TODAY - dt.timedelta(days=HORIZON_DAYS)
    steps = ("aggregate", "return_fit", "backtest")
    seconds: dict[str, list[float]] = {f"{step}{clock}": [] for step in steps for clock in ("", "_cpu")}
    report = None

    def timed(step: str, call: Callable[[], _T]) -> _T:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = call()
        seconds[step].append(time.perf_counter() - began)
        seconds[f"{step}_cpu"].append(time.process_time() - began_cpu)
        return result

    for _ in range(runs):
        days, contacts = timed(
            "aggregate",
            lambda: (PurchaseDays.from_purchases(purchases), ContactDays.from_interactions(interactions)),
        )
        timed("return_fit", lambda: fit_return_model(days, date))  # noqa: B023 (called at once)
        report = timed("backtest", lambda: backtest(customers, days, contacts, date=date))  # noqa: B023
    note = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    figures = [
        Figure(f"churn_{name}_s", scale, "", median(values), runs, note=note if name == "backtest" else "")
        for name, values in seconds.items()
    ]
    if report is not None and report.auc is not None:
        figures.append(Figure("churn_backtest_auc", scale, "", report.auc, 1))
    return figures


def measure_cli(*, scale: str, database_url: str, runs: int) -> list[Figure]:
    """``crm-bot analytics backtest --json`` as of 90 days before the benchmark's today, on a store as
    it is: wall and CPU seconds of the whole command (loading the frames included). The store is
    never loaded or emptied here; each run adds the command's audit record to it, as any run does.
    A store that does not hold about the scale's number of customers is left for its own scale."""
    store = "postgresql" if make_url(database_url).get_backend_name() == "postgresql" else "sqlite"
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            held = session.scalar(select(func.count()).select_from(Customer)) or 0
    finally:
        engine.dispose()
    if abs(held - SCALES[scale]) > SCALES[scale] // 100:  # other parts add a few customers
        print(
            f"    {store} store holds {held:,} customers, not {SCALES[scale]:,}: left for its scale",
            flush=True,
        )
        return []
    date = TODAY - dt.timedelta(days=HORIZON_DAYS)
    command = [str(Path(sys.executable).with_name("crm-bot")), "analytics", "backtest"]
    command += ["--date", date.isoformat(), "--json"]
    env = dict(os.environ, DATABASE_URL=database_url)
    walls, cpus = [], []
    document: dict[str, Any] = {}
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        child = subprocess.run(command, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if child.returncode != 0:
            raise RuntimeError(f"crm-bot analytics backtest failed on {store}:\n{child.stderr[-2000:]}")
        document = json.loads(child.stdout)
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    note = f"{held:,} customers, {document['customers']:,} buyers judged; {load}"
    return [
        Figure("churn_cli_backtest_s", scale, store, median(walls), runs, note=note),
        Figure("churn_cli_backtest_cpu_s", scale, store, median(cpus), runs),
    ]
