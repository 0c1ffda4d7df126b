"""A day's snapshot keeps its KPIs for the weekly trend; scores are the scoring job's
(tests/crm_core/analytics/test_scoring.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm_core.analytics.stored import kpi_history, scores_stored_on
from crm_core.digest.content import take_snapshot
from crm_core.digest.snapshots import keep_kpis
from tests.factories import lapsing_buyer

TODAY = dt.date(2026, 11, 25)


def _lapsing_customer(session: Session) -> int:
    return lapsing_buyer(session, today=TODAY, external_id="SLIP", owner_id="U0REP")


def test_kpis_reach_the_history_per_team_and_owner(session: Session) -> None:
    _lapsing_customer(session)
    keep_kpis(session, take_snapshot(session, local_date=TODAY))
    [team_point] = kpi_history(session, since=TODAY - dt.timedelta(days=7))
    assert (team_point.snapshot_date, team_point.at_risk) == (TODAY, 1)
    assert [p.at_risk for p in kpi_history(session, owner_id="U0REP", since=TODAY)] == [1]
    assert scores_stored_on(session) is None  # the digest keeps no customer scores


def test_keeping_a_day_again_replaces_that_days_kpis(session: Session) -> None:
    _lapsing_customer(session)
    snapshot = take_snapshot(session, local_date=TODAY)
    keep_kpis(session, snapshot)
    keep_kpis(session, snapshot)
    keep_kpis(session, take_snapshot(session, local_date=TODAY - dt.timedelta(days=20)))
    dates = [p.snapshot_date for p in kpi_history(session, since=TODAY - dt.timedelta(days=30))]
    assert dates == [TODAY - dt.timedelta(days=20), TODAY]
