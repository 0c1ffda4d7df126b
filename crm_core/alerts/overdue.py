"""Follow-ups that became overdue: found by the scheduler, each recorded once as an alert event.

Nothing happens at the moment a due date passes, so a job looks: an open follow-up due before
``today`` gets an ``overdue`` event keyed by its id, which the database keeps unique, so however
many replicas look, and however often, it is recorded once. Only follow-ups that fell due in the
last ``LOOK_BACK`` are looked at: a store's old backlog is the digest's business, not news.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.alerts.events import record_event
from crm_core.alerts.topics import Topic
from crm_core.models import AlertEvent, FollowUp

LOOK_BACK = dt.timedelta(days=3)


def overdue_key(follow_up_id: int) -> str:
    return f"overdue:{follow_up_id}"


def record_overdue_follow_ups(session: Session, *, today: dt.date) -> int:
    """Record an event for each follow-up newly overdue as of ``today``; how many were recorded."""
    follow_ups = session.execute(
        select(FollowUp.id, FollowUp.customer_id, FollowUp.owner_id, FollowUp.due_on).where(
            FollowUp.status.in_(("open", "snoozed")),
            FollowUp.due_on < today,
            FollowUp.due_on >= today - LOOK_BACK,
        )
    ).all()
    keys = [overdue_key(row.id) for row in follow_ups]
    known = set(session.scalars(select(AlertEvent.key).where(AlertEvent.key.in_(keys)))) if keys else set()
    recorded = 0
    for row in follow_ups:
        key = overdue_key(row.id)
        if key in known:
            continue
        recorded += record_event(
            session,
            topic=Topic.OVERDUE,
            customer_id=row.customer_id,
            owner_id=row.owner_id,
            detail={"due_on": row.due_on.isoformat()},
            key=key,
        )
    return recorded
