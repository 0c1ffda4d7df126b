"""`crm-bot analytics fit --json` and `scores --csv` on a store with known purchase rhythms."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable

from sqlalchemy import Engine

from crm_core.models import Purchase
from crm_core.store import transaction
from tests.conftest import CliResult
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
    expected = {"external_id", "name", "p_alive", "expected_purchases_90d", "rfm_score", "segment", "vip"}
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
