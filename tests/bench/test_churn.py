"""The churn comparison (bench/churn.py) judges every model on the backtest's customers and outcome,
and its tables land in docs/ANALYTICS.md between the markers only (bench/churn_report.py).

lifetimes and PyMC-Marketing live in virtual environments of their own and are not needed here:
what is checked is our side, the data the foreign models are given, and the report.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import churn, churn_report
from bench.results import Figure, Results
from crm_core.analytics.bgnbd import bgnbd_summary
from crm_core.demo.generator import generate_demo_data


def test_demo_frames_keep_every_row_with_its_customer() -> None:
    data = generate_demo_data(customers=120, seed=4, today=dt.date(2026, 11, 25))

    customers, purchases, interactions = churn.demo_frames(data)

    external = data.customers["external_id"].to_numpy()
    assert customers["customer_id"].tolist() == list(range(1, 121))
    assert (external[purchases["customer_id"] - 1] == data.purchases["customer"].astype(str)).all()
    assert (external[interactions["customer_id"] - 1] == data.interactions["customer"].astype(str)).all()
    assert purchases["amount"].sum() == pytest.approx(float(data.purchases["amount"].sum()))


def test_cdnow_ours_meets_the_issue_targets_and_writes_the_summary_foreign_models_fit(tmp_path: Path) -> None:
    cdnow = churn.cdnow()

    figures = churn.compare_set(cdnow, runs=1, workdir=tmp_path, lifetimes_python=None, pymc_python=None)

    value = {f.metric: f.value for f in figures if f.scale == "cdnow"}
    assert value["churn_buyers"] == 2357
    assert value["churn_base_rate"] == pytest.approx(0.169, abs=5e-4)
    assert value["churn_ours_auc"] >= 0.79
    assert value["churn_ours_brier"] < value["churn_base_brier"] - 0.02
    assert value["churn_ours_levels_ordered"] == 1
    assert value["churn_ours_ok_returned"] > value["churn_ours_at_risk_returned"]
    assert value["churn_ours_at_risk_returned"] > value["churn_ours_churned_returned"]
    written = pd.read_csv(tmp_path / "churn-summary-cdnow.csv")
    expected = bgnbd_summary(cdnow.purchases, cdnow.date)
    np.testing.assert_allclose(written.to_numpy(), expected[["x", "t_x", "T"]].to_numpy())


def test_outcome_is_a_purchase_on_a_later_day_within_the_horizon() -> None:
    cdnow = churn.cdnow()
    summary = bgnbd_summary(cdnow.purchases, cdnow.date)

    returned = churn.outcome(cdnow, summary)

    # 16.9% of CDNOW's 2,357 customers buy again in the 90 days after 1997-09-30 (issue 15).
    assert set(np.unique(returned)) == {0.0, 1.0}
    assert returned.sum() == 398


def test_report_replaces_only_the_marked_part(tmp_path: Path) -> None:
    figures = (
        Figure("churn_buyers", "cdnow", "", 2357, 1),
        Figure("churn_base_rate", "cdnow", "", 0.169, 1),
        Figure("churn_base_brier", "cdnow", "", 0.140, 1),
        Figure("churn_ours_auc", "cdnow", "", 0.7933, 1),
        Figure("churn_ours_brier", "cdnow", "", 0.1096, 1),
        Figure("churn_lifetimes_pareto_auc", "cdnow", "", 0.7912, 1),
        Figure("churn_lifetimes_pareto_undefined", "cdnow", "", 92, 1),
        Figure("churn_backtest_s", "1m", "", 3.6, 3),
    )
    marked = tmp_path / "ANALYTICS.md"
    generated = f"{churn_report.BEGIN}\nold\n{churn_report.END}"
    marked.write_text(f"# Churn\n\nprose before\n\n{generated}\n\nprose after\n")
    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("# Other\n")

    churn_report.write(Results({}, figures), marked)
    churn_report.write(Results({}, figures), unmarked)

    text = marked.read_text()
    assert text.startswith("# Churn\n\nprose before\n\n") and text.endswith("\n\nprose after\n")
    assert "old" not in text
    assert "| CDNOW 1997-09-30 | **ours: `p_return_90d`** (MBG/NBD + calibration) | 0.793 |" in text
    assert "lifetimes Pareto/NBD (92 customers without a finite chance left out) | 0.791 |" in text
    assert "| backtest in memory (fit, score, level, judge) | 3.60 |" in text
    assert unmarked.read_text() == "# Other\n"
