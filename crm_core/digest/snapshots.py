"""Keeping what a day's snapshot found for the weekly trend chart: the team's and each owner's KPIs.

Customers' scores are kept by the scoring job (``crm_core.analytics.scoring``), not here: the
profile card needs them whether or not anyone gets a digest.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_core.analytics.stored import TEAM_SCOPE, KpiPoint, record_kpis
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


def keep_kpis(session: Session, snapshot: TeamSnapshot) -> None:
    """Keep the snapshot's KPIs under its day; keeping a day again replaces that day's."""
    scopes = [(TEAM_SCOPE, snapshot.kpis), *snapshot.kpis_by_owner.items()]
    for owner_id, kpis in scopes:
        if kpis is not None:
            record_kpis(session, owner_id=owner_id, point=_point(snapshot, kpis))
