"""Fit ``lifetimes``' models to a summary CSV (x, t_x, T in days), timing the fits alone.

Runs under a separate interpreter that has ``lifetimes`` (it needs pandas < 2.2 and numpy < 2), so it
imports nothing from this project:

    /tmp/lt-venv/bin/python bench/lifetimes_fit.py SUMMARY.csv RUNS    # BetaGeoFitter; JSON on stdout
    /tmp/lt-venv/bin/python bench/lifetimes_fit.py SUMMARY.csv RUNS HORIZON OUT.csv

The second form (``bench/churn.py``) fits BG/NBD, MBG/NBD and Pareto/NBD, prints each one's fit
seconds and parameters as JSON, and writes per customer (in the summary's order) each model's chance
of at least one purchase in the HORIZON days after T and its expected purchases in them to OUT.csv.
"""

import json
import sys
import time

import lifetimes
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

MODELS = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "pareto": ParetoNBDFitter}


def fitted(model, summary, runs):
    """The last of ``runs`` fits and every fit's seconds."""
    seconds = []
    for _ in range(runs):
        fitter = MODELS[model]()
        began = time.perf_counter()
        fitter.fit(summary["x"], summary["t_x"], summary["T"])
        seconds.append(time.perf_counter() - began)
    return fitter, seconds


def p_purchase(model, fitter, summary, horizon):
    """P(at least one purchase in (T, T + horizon]) per customer.

    BG/NBD and MBG/NBD: a customer makes none if they are gone, or if alive their gamma-Poisson
    rate, updated by x purchases in T, gives none: 1 - P(alive) (1 - ((α + T) / (α + T + t))^(r + x)).
    """
    x, t_x, T = summary["x"], summary["t_x"], summary["T"]
    if model == "pareto":
        return 1 - fitter.conditional_probability_of_n_purchases_up_to_time(0, horizon, x, t_x, T)
    params = fitter.params_
    alive = fitter.conditional_probability_alive(x, t_x, T)
    quiet = ((params["alpha"] + T) / (params["alpha"] + T + horizon)) ** (params["r"] + x)
    return alive * (1 - quiet)


def compare(summary, runs, horizon):
    predictions = {}
    report = {}
    for model in MODELS:
        fitter, seconds = fitted(model, summary, runs)
        x, t_x, T = summary["x"], summary["t_x"], summary["T"]
        predictions[f"{model}_p_purchase"] = np.asarray(p_purchase(model, fitter, summary, horizon))
        predictions[f"{model}_expected"] = np.asarray(
            fitter.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T)
        )
        report[model] = {"seconds": seconds, "params": {k: float(v) for k, v in fitter.params_.items()}}
    report["versions"] = {
        "lifetimes": lifetimes.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
    return report, pd.DataFrame(predictions)


def main() -> None:
    summary = pd.read_csv(sys.argv[1])
    runs = int(sys.argv[2])
    if len(sys.argv) > 3:
        report, predictions = compare(summary, runs, float(sys.argv[3]))
        predictions.to_csv(sys.argv[4], index=False)
        print(json.dumps(report))
        return
    fitter, seconds = fitted("bgnbd", summary, runs)
    params = {name: float(value) for name, value in fitter.params_.items()}
    print(json.dumps({"seconds": seconds, "params": params}))


if __name__ == "__main__":
    main()
