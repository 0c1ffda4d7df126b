"""Fit ``lifetimes``' BetaGeoFitter to a summary CSV (x, t_x, T), timing the fit alone.

Runs under a separate interpreter that has ``lifetimes`` (it needs pandas < 2.2 and numpy < 2), so it
imports nothing from this project:

    /tmp/lt-venv/bin/python bench/lifetimes_fit.py SUMMARY.csv RUNS    # JSON on stdout
"""

import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter


def main() -> None:
    summary = pd.read_csv(sys.argv[1])
    seconds = []
    for _ in range(int(sys.argv[2])):
        fitter = BetaGeoFitter()
        began = time.perf_counter()
        fitter.fit(summary["x"], summary["t_x"], summary["T"])
        seconds.append(time.perf_counter() - began)
    params = {name: float(value) for name, value in fitter.params_.items()}
    print(json.dumps({"seconds": seconds, "params": params}))


if __name__ == "__main__":
    main()
