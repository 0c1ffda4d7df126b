"""Recording alert events: an outbox written in the transaction of the action that caused them.

An event is recorded whether or not any channel subscribes yet: it is one small row, and the sender
(``bot.jobs.alerts``) matches events to subscriptions when it posts. It holds ids and dates, never
text a person typed, since channels may hold guests. A session that recorded an event is marked
(``session.info``), so the Slack layer can post it as soon as the transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.alerts.topics import Topic
from crm_core.models import AlertEvent, stored_now

RECORDED = "crm_alerts_recorded"
"""The ``session.info`` key set when the session recorded an event (``bot.jobs.alerts`` listens)."""


def record_event(
    session: Session,
    *,
    topic: Topic,
    customer_id: int,
    owner_id: str | None,
    detail: Mapping[str, str] | None = None,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Record that ``topic`` happened to a customer; False when an event of the same ``key`` exists."""
    values = {
        "topic": topic.value,
        "customer_id": customer_id,
        "owner_id": owner_id,
        "detail": dict(detail or {}),
        "key": key,
        "occurred_at": now or stored_now(),
    }
    if key is None:
        session.execute(insert(AlertEvent).values(values))
    else:
        try:
            with session.begin_nested():
                session.execute(insert(AlertEvent).values(values))
        except IntegrityError:
            return False
    session.info[RECORDED] = True
    return True
