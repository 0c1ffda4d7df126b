"""A day's snapshot is kept: scores for the profile card, KPIs for the weekly trend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.analytics.stored import kpi_history, latest_score
from crm_core.digest.content import take_snapshot
from crm_core.digest.snapshots import keep_snapshot
from crm_core.models import Purchase
from crm_core.read_models.profile import load_profile
from tests.factories import TEST_ACTOR, customer

TODAY = dt.date(2026, 11, 25)


def _lapsing_customer(session: Session) -> int:
    c = customer(session, "Slipping Away", external_id="SLIP", owner_id="U0REP")
    for days_ago in range(30, 400, 10):  # bought every 10 days, silent for 30
        when = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(12))
        session.add(Purchase(customer_id=c.id, occurred_at=when, amount=1000, currency="JPY"))
    session.flush()
    return c.id


def test_scores_reach_the_profile_and_kpis_the_history(session: Session) -> None:
    customer_id = _lapsing_customer(session)
    assert load_profile(session, actor=TEST_ACTOR, external_id="SLIP").churn_risk is None

    keep_snapshot(session, take_snapshot(session, local_date=TODAY))

    score = latest_score(session, customer_id=customer_id)
    assert score is not None and score.churn_risk == "at_risk"
    profile = load_profile(session, actor=TEST_ACTOR, external_id="SLIP")
    assert profile.churn_risk is not None
    [rhythm] = profile.churn_risk.reason
    assert (rhythm.key, rhythm.values) == ("churn.reason.own_purchase_rhythm", {"gap": 10, "since": 30})
    supporter = Actor(user_id="U0SUPPORT", surface="slack", role="support")
    seen_by_support = load_profile(session, actor=supporter, external_id="SLIP").churn_risk
    assert seen_by_support is not None and seen_by_support.level == "at_risk"
    assert [part.key for part in seen_by_support.reason] == ["churn.reason.purchases_not_shown"]
    [team_point] = kpi_history(session, since=TODAY - dt.timedelta(days=7))
    assert (team_point.snapshot_date, team_point.at_risk) == (TODAY, 1)
    assert [p.at_risk for p in kpi_history(session, owner_id="U0REP", since=TODAY)] == [1]


def test_an_older_snapshot_never_overwrites_a_newer_one(session: Session) -> None:
    customer_id = _lapsing_customer(session)
    keep_snapshot(session, take_snapshot(session, local_date=TODAY))
    keep_snapshot(session, take_snapshot(session, local_date=TODAY - dt.timedelta(days=20)))
    score = latest_score(session, customer_id=customer_id)
    assert score is not None and score.scored_on == TODAY
