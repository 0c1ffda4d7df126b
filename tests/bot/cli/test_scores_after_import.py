"""`crm-bot analytics score` keeps today's scores, and an import of purchases does it too: right
after `import`, the profile card has segment and churn risk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, select

from crm_core.analytics.stored import scores_stored_on
from crm_core.models import Customer, Purchase
from crm_core.read_models.profile import load_profile
from crm_core.store import transaction
from tests.conftest import CliResult
from tests.factories import TEST_ACTOR

Crm = Callable[..., CliResult]
TODAY = dt.datetime.now(dt.UTC).date()  # crm-bot's today: CRM_TIMEZONE is UTC here


def _purchases(tmp_path: Path) -> Path:
    """C1 bought every 10 days for a year and then fell silent 30 days ago; C2 buys on."""
    lines = ["customer,occurred_at,amount,external_id"]
    for days_ago in range(30, 400, 10):
        lines.append(f"C1,{TODAY - dt.timedelta(days=days_ago)},1000,A{days_ago}")
    for days_ago in range(0, 400, 10):
        lines.append(f"C2,{TODAY - dt.timedelta(days=days_ago)},3000,B{days_ago}")
    path = tmp_path / "purchases.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _customers(crm: Crm, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name\nC1,Slipping Away Ltd\nC2,Steady Buyer Inc.\n", encoding="utf-8")
    assert crm("import", "customers", str(path)).exit_code == 0


def test_right_after_importing_purchases_the_card_has_segment_and_churn_risk(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    _customers(crm, tmp_path)
    dry = crm("import", "purchases", str(_purchases(tmp_path)), "--dry-run")
    assert dry.exit_code == 0
    with transaction(engine) as session:
        assert scores_stored_on(session) is None

    result = crm("import", "purchases", str(_purchases(tmp_path)))

    assert result.exit_code == 0, result.stderr
    with transaction(engine) as session:  # no `today`: only kept scores can answer
        assert scores_stored_on(session) == TODAY
        slipping = load_profile(session, actor=TEST_ACTOR, external_id="C1")
        steady = load_profile(session, actor=TEST_ACTOR, external_id="C2")
    assert slipping.churn_risk is not None and slipping.churn_risk.level == "at_risk"
    assert steady.churn_risk is not None and steady.churn_risk.level == "ok"
    assert slipping.segment and steady.segment


def test_analytics_score_keeps_todays_scores(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    _customers(crm, tmp_path)
    with transaction(engine) as session:
        c1 = session.scalars(select(Customer).where(Customer.external_id == "C1")).one()
        session.add(
            Purchase(customer_id=c1.id, occurred_at=dt.datetime.combine(TODAY, dt.time()), amount=100)
        )
        session.flush()
        assert scores_stored_on(session) is None
    result = crm("analytics", "score")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"scores as of {TODAY.isoformat()} kept for 2 customers\n"
    with transaction(engine) as session:
        assert scores_stored_on(session) == TODAY
        assert load_profile(session, actor=TEST_ACTOR, external_id="C1").churn_risk is not None
