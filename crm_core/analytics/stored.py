"""Analytics kept in the store: each customer's latest scores, and the KPIs of each day.

Scoring every customer takes seconds at scale, too long for a ``/crm find``; so the scheduler
stores the day's scores once and the profile card reads one row. Daily KPIs are kept so the weekly
trend chart needs no re-scoring of past weeks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm_core.alerts.scoring import ScoreChanges
from crm_core.analytics.reasons import Reasons, reasons_from_stored, stored_facts
from crm_core.models import CustomerScore, KpiSnapshot

TEAM_SCOPE = ""
_CHUNK = 20_000


@dataclass(frozen=True)
class StoredScore:
    scored_on: dt.date
    segment: str | None
    vip: bool
    churn_risk: str
    reasons: Reasons
    next_step_key: str


@dataclass(frozen=True)
class KpiPoint:
    snapshot_date: dt.date
    active: int
    at_risk: int
    churned: int
    reactivated: int
    retention_rate: float | None


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def store_scores(session: Session, *, scores: pd.DataFrame, scored_on: dt.date) -> int:
    """Replace every stored score with ``scores`` (indexed by customer_id, as score_customers gives),
    recording the alerts the change gives (a VIP newly at risk, a customer won back)."""
    changes = ScoreChanges(session)
    session.execute(delete(CustomerScore))
    frame = scores[scores["churn_risk"].notna()]
    columns = {
        "customer_id": frame.index.to_numpy(dtype="int64").tolist(),
        "segment": [_text(v) for v in frame["segment"].tolist()],
        "rfm_score": [_text(v) for v in frame["rfm_score"].tolist()],
        "vip": frame["vip"].astype(bool).tolist(),
        "churn_risk": frame["churn_risk"].astype(str).tolist(),
        "reason": stored_facts(frame),
        "next_step_key": frame["next_step_key"].fillna("").astype(str).tolist(),
        "p_alive": [None if math.isnan(v) else v for v in frame["p_alive"].astype(float).tolist()],
    }
    rows = [
        dict(zip(columns, values, strict=True), scored_on=scored_on)
        for values in zip(*columns.values(), strict=True)
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(CustomerScore), rows[start : start + _CHUNK])
    changes.record(session, scores=frame)
    return len(rows)


def scores_stored_on(session: Session) -> dt.date | None:
    return session.scalar(select(CustomerScore.scored_on).limit(1))


def latest_score(session: Session, *, customer_id: int) -> StoredScore | None:
    row = session.get(CustomerScore, customer_id)
    if row is None:
        return None
    return StoredScore(
        row.scored_on,
        row.segment,
        row.vip,
        row.churn_risk,
        reasons_from_stored(row.reason),
        row.next_step_key,
    )


def record_kpis(session: Session, *, owner_id: str, point: KpiPoint) -> None:
    """Keep one day's KPIs for a scope; recording the same day again replaces them."""
    session.execute(
        delete(KpiSnapshot).where(
            KpiSnapshot.snapshot_date == point.snapshot_date, KpiSnapshot.owner_id == owner_id
        )
    )
    session.add(
        KpiSnapshot(
            snapshot_date=point.snapshot_date,
            owner_id=owner_id,
            active=point.active,
            at_risk=point.at_risk,
            churned=point.churned,
            reactivated=point.reactivated,
            retention_rate=point.retention_rate,
        )
    )


def kpi_history(session: Session, *, owner_id: str = TEAM_SCOPE, since: dt.date) -> list[KpiPoint]:
    rows = session.scalars(
        select(KpiSnapshot)
        .where(KpiSnapshot.owner_id == owner_id, KpiSnapshot.snapshot_date >= since)
        .order_by(KpiSnapshot.snapshot_date)
    )
    return [
        KpiPoint(r.snapshot_date, r.active, r.at_risk, r.churned, r.reactivated, r.retention_rate)
        for r in rows
    ]
