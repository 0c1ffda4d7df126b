"""``crm-bot export segment NAME FILE|-``: the campaign list /crm segment sends, as the operator sees it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from crm_core.models import CustomerScore
from crm_core.store import transaction
from tests.conftest import CliResult
from tests.factories import customer

Crm = Callable[..., CliResult]


def scored(engine: Engine) -> None:
    with transaction(engine) as session:
        for name, segment, risk in (("@SUM(A1)", "At Risk", "ok"), ("Calm KK", "Champions", "at_risk")):
            made = customer(session, name, email=f"{segment[0].lower()}{risk[0]}@example.com")
            session.add(
                CustomerScore(
                    customer_id=made.id,
                    scored_on=dt.date(2026, 3, 4),
                    segment=segment,
                    vip=False,
                    churn_risk=risk,
                )
            )


def test_a_segment_and_the_churn_list_are_told_apart_and_cells_are_formula_safe(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    scored(engine)
    segment = crm("export", "segment", "at risk", "-")
    assert segment.exit_code == 0, segment.stderr
    [row] = csv.DictReader(io.StringIO(segment.stdout))
    assert row["name"] == "'@SUM(A1)" and row["segment"] == "At Risk"
    out = tmp_path / "churn.csv"
    churn = crm("export", "segment", "at-risk", str(out))
    assert churn.exit_code == 0 and "exported 1 customers of at-risk" in churn.stderr
    [row] = csv.DictReader(out.open(encoding="utf-8"))
    assert row["name"] == "Calm KK" and row["churn_risk"] == "at_risk"


def test_an_unknown_list_is_one_line_and_exit_2(crm: Crm) -> None:
    result = crm("export", "segment", "Gold", "-")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "“Gold” is not a campaign list; lists: at-risk" in result.stderr
