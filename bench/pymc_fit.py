"""Fit PyMC-Marketing's BG/NBD, MBG/NBD and Pareto/NBD to a summary CSV by MAP, timing the fits.

Runs under a separate interpreter that has ``pymc-marketing`` (``bench/churn.py`` calls it), so it
imports nothing from this project:

    /tmp/pymc-venv/bin/python bench/pymc_fit.py SUMMARY.csv HORIZON OUT.csv [MODEL,...]

The summary has x, t_x and T in days; MODEL is of bgnbd (``BetaGeoModel``), mbgnbd
(``ModifiedBetaGeoModel``) and pareto (``ParetoNBDModel``), all by default. Prints JSON: per model
the fit's seconds (PyTensor compiles each model on its first fit in a process, which is included,
as a user meets it; its on-disk cache makes later processes faster) and the MAP parameters, and the
versions; writes per customer (in the summary's order) each model's chance of at least one purchase
in the HORIZON days after T and its expected purchases in them to OUT.csv. PyMC-Marketing's default
priors are kept, so its estimates are MAP, not maximum likelihood.
"""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

PARAMETERS = ("r", "alpha", "a", "b", "s", "beta")


def point(values):
    """The MAP fit's one draw as an array per customer."""
    return values.mean(("chain", "draw")).to_numpy()


def p_purchase(name, model, params, summary, horizon):
    """P(at least one purchase in (T, T + horizon]) per customer.

    PyMC-Marketing's MBG/NBD has no chance of no purchase; like BG/NBD's it is that of being gone,
    or alive with a gamma-Poisson rate (updated by x purchases in T) that makes none:
    1 - P(alive) (1 - ((α + T) / (α + T + t))^(r + x)).
    """
    if name == "pareto":
        return 1 - point(model.expected_purchase_probability(n_purchases=0, future_t=horizon))
    if name == "bgnbd":
        return 1 - point(model.expected_probability_no_purchase(t=horizon))
    alive = point(model.expected_probability_alive())
    T, x = summary["T"].to_numpy(), summary["x"].to_numpy()
    quiet = ((params["alpha"] + T) / (params["alpha"] + T + horizon)) ** (params["r"] + x)
    return alive * (1 - quiet)


def main() -> None:
    warnings.filterwarnings("ignore")
    import pymc
    import pymc_marketing
    from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

    classes = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pareto": ParetoNBDModel}

    summary = pd.read_csv(sys.argv[1])
    horizon = int(float(sys.argv[2]))
    data = pd.DataFrame(
        {
            "customer_id": np.arange(len(summary)),
            "frequency": summary["x"].to_numpy(),
            "recency": summary["t_x"].to_numpy(),
            "T": summary["T"].to_numpy(),
        }
    )
    chosen = sys.argv[4].split(",") if len(sys.argv) > 4 else list(classes)
    report = {"versions": {"pymc_marketing": pymc_marketing.__version__, "pymc": pymc.__version__}}
    predictions = {}
    for name in chosen:
        model = classes[name](data=data)
        began = time.perf_counter()
        model.fit(method="map", progressbar=False)
        seconds = time.perf_counter() - began
        posterior = model.idata.posterior
        params = {k: float(posterior[k].mean()) for k in PARAMETERS if k in posterior}
        predictions[f"{name}_p_purchase"] = p_purchase(name, model, params, summary, horizon)
        expected = model.expected_purchases(future_t=horizon).mean(("chain", "draw")).to_numpy()
        predictions[f"{name}_expected"] = expected
        report[name] = {"seconds": [seconds], "params": params}
    pd.DataFrame(predictions).to_csv(sys.argv[3], index=False)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
