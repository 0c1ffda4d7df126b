"""`crm-bot analytics fit --json` and `scores --csv` on a store with known purchase rhythms."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from crm_core.demo.regular import regular_purchases
from crm_core.models import Customer, Purchase
from crm_core.store import transaction
from tests.conftest import CliResult
from tests.crm_core.analytics.analytics_frames import CDNOW_CALIBRATION_END, cdnow_purchases
from tests.factories import customer

Crm = Callable[..., CliResult]
TODAY = dt.date(2026, 11, 25)


def _shop(engine: Engine) -> None:
    with transaction(engine) as session:
        for i in range(15):
            c = customer(session, f"Regular {i}", external_id=f"R{i}")
            for days_ago in range(3 + i, 500, 14 + i):
                when = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(10))
                session.add(
                    Purchase(customer_id=c.id, occurred_at=when, amount=1000 + 100 * i, currency="JPY")
                )
        customer(session, "Never Bought", external_id="NB")


def test_fit_prints_the_bgnbd_parameters_as_json(crm: Crm, engine: Engine) -> None:
    _shop(engine)
    result = crm("analytics", "fit", "--json", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["model"] == "bg/nbd"
    assert document["time_unit"] == "days"
    assert document["customers"] == 16
    assert document["fitted_on"] == 15
    assert set(document["params"]) == {"r", "alpha", "a", "b"}
    assert all(value > 0 for value in document["params"].values())


def test_fit_on_an_empty_store_says_there_is_no_model(crm: Crm) -> None:
    document = json.loads(crm("analytics", "fit", "--json").stdout)
    assert document["params"] is None
    assert document["customers"] == 0


def test_scores_csv_has_one_row_per_customer_with_the_promised_columns(crm: Crm, engine: Engine) -> None:
    _shop(engine)
    result = crm("analytics", "scores", "--csv", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 16
    expected = {
        "external_id",
        "name",
        "p_return_90d",
        "p_alive",
        "expected_purchases_90d",
        "rfm_score",
        "vip",
    }
    assert expected | {"churn_risk", "reason", "next_step"} <= set(rows[0])
    never = next(r for r in rows if r["external_id"] == "NB")
    assert never["p_alive"] == ""
    regular = next(r for r in rows if r["external_id"] == "R0")
    assert 0 < float(regular["p_alive"]) <= 1
    assert len(regular["rfm_score"]) == 3


def test_a_bad_date_is_a_usage_error(crm: Crm) -> None:
    result = crm("analytics", "scores", "--csv", "--date", "25/11/2026")
    assert result.exit_code == 2
    assert "--date" in result.stderr


def _store_purchases(engine: Engine, purchases: pd.DataFrame) -> None:
    """Customers 1…n and their purchases, written straight to the store (thousands of rows)."""
    ids = sorted(set(purchases["customer_id"].tolist()))
    with transaction(engine) as session:
        session.execute(
            insert(Customer),
            [{"id": i, "external_id": f"C{i}", "name": f"C{i}", "name_key": f"c{i}"} for i in ids],
        )
        session.execute(
            insert(Purchase),
            [
                {
                    "customer_id": int(c),
                    "occurred_at": when.to_pydatetime(),
                    "amount": float(a),
                    "currency": "USD",
                }
                for c, when, a in zip(
                    purchases["customer_id"], purchases["occurred_at"], purchases["amount"], strict=True
                )
            ],
        )


def _backtest(crm: Crm, date: str) -> dict[str, Any]:
    result = crm("analytics", "backtest", "--date", date, "--horizon", "90", "--json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_backtest_on_cdnow_meets_the_targets(crm: Crm, engine: Engine) -> None:
    cdnow = cdnow_purchases().frame
    _store_purchases(
        engine,
        pd.DataFrame(
            {
                "customer_id": cdnow["customer_id"],
                "occurred_at": pd.to_datetime(cdnow["day"], unit="D") + pd.Timedelta(hours=12),
                "amount": cdnow["net"],
            }
        ),
    )

    report = _backtest(crm, CDNOW_CALIBRATION_END.isoformat())

    assert (report["customers"], report["horizon_days"]) == (2357, 90)
    assert report["base_rate"] == pytest.approx(0.169, abs=0.001)
    assert report["auc"] >= 0.79
    assert report["brier"] < report["base_rate_brier"] - 0.02
    ok, at_risk, churned = (level["returned_rate"] for level in report["levels"])
    assert ok > at_risk > churned and report["levels_ordered"]
    assert report["at_risk_list"]["share"] < 0.25
    assert len(report["reliability"]) == 10
    text = crm("analytics", "backtest", "--date", CDNOW_CALIBRATION_END.isoformat()).stdout
    assert "AUC of p_return_90d: 0.79" in text and "strictly fewer at each step" in text


def test_backtest_on_regular_buyers_ranks_them_almost_perfectly(crm: Crm, engine: Engine) -> None:
    today = dt.date.today() - dt.timedelta(days=1)
    _store_purchases(engine, regular_purchases(customers=2000, today=today, seed=3))

    report = _backtest(crm, (today - dt.timedelta(days=90)).isoformat())

    assert report["auc"] >= 0.95
    assert report["levels_ordered"]


def test_backtest_refuses_a_horizon_that_has_not_ended(crm: Crm) -> None:
    result = crm("analytics", "backtest", "--date", dt.date.today().isoformat())
    assert result.exit_code == 2
    assert "choose a --date at least 90 days ago" in result.stderr


def test_backtest_without_enough_repeat_buyers_says_what_to_do(crm: Crm, engine: Engine) -> None:
    _shop(engine)
    result = crm("analytics", "backtest", "--date", "2020-01-01")
    assert result.exit_code == 2
    assert "too few customers had bought twice by 2020-01-01" in result.stderr
    assert "Traceback" not in result.stderr


def test_fit_without_json_prints_the_model_as_text(crm: Crm, engine: Engine) -> None:
    _shop(engine)
    result = crm("analytics", "fit", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "Churn model (BG/NBD) as of 2026-11-25, fitted on the purchases of 15 of 16 customers"
    )
    assert "  r " in result.stdout and " alpha " in result.stdout


def test_fit_without_json_on_an_empty_store_says_there_is_no_model(crm: Crm) -> None:
    result = crm("analytics", "fit")
    assert result.exit_code == 0, result.stderr
    assert "not fitted" in result.stdout


def test_scores_write_csv_without_being_told_to(crm: Crm, engine: Engine) -> None:
    _shop(engine)
    result = crm("analytics", "scores", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.stderr
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 16
