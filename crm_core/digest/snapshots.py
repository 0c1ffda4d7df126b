"""Keeping what a day's snapshot found: scores for the profile card, KPIs for the trend chart."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_core.analytics.stored import TEAM_SCOPE, KpiPoint, record_kpis, scores_stored_on, store_scores
from crm_core.digest.content import KpiLine, TeamSnapshot


def _point(snapshot: TeamSnapshot, kpis: KpiLine) -> KpiPoint:
    return KpiPoint(
        snapshot_date=snapshot.local_date,
        active=kpis.active[0],
        at_risk=kpis.at_risk[0],
        churned=kpis.churned[0],
        reactivated=kpis.reactivated[0],
        retention_rate=kpis.retention_rate[0],
    )


def keep_snapshot(session: Session, snapshot: TeamSnapshot) -> None:
    """Store the snapshot's scores and KPIs, unless a snapshot of the same or a later day already did."""
    stored_on = scores_stored_on(session)
    if stored_on is not None and stored_on >= snapshot.local_date:
        return
    store_scores(session, scores=snapshot.customers, scored_on=snapshot.local_date)
    scopes = [(TEAM_SCOPE, snapshot.kpis), *snapshot.kpis_by_owner.items()]
    for owner_id, kpis in scopes:
        if kpis is not None:
            record_kpis(session, owner_id=owner_id, point=_point(snapshot, kpis))
