"""Alerts left to post: each recent event, in each channel subscribed to it, not yet delivered there.

A channel gets an event when it subscribed to the event's topic before the event happened, for
everyone's customers or for the owner the event is about. Events older than ``ALERT_WINDOW`` are
news no more and are left unposted. The customer comes masked as a shared card is
(``crm_core.masking``): channels may hold guests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from crm_core.alerts.subscriptions import ALL_OWNERS
from crm_core.alerts.topics import Topic
from crm_core.customer_view import CustomerView
from crm_core.delivery.claims import settled
from crm_core.masking import masked_customer
from crm_core.models import AlertDelivery, AlertEvent, AlertSubscription, Customer

ALERT_WINDOW = dt.timedelta(days=2)
BATCH = 200  # alerts read per round; a later round takes the rest


@dataclass(frozen=True)
class PendingAlert:
    event_id: int
    channel_id: str
    language: str
    topic: Topic
    occurred_at: dt.datetime
    customer: CustomerView  # masked
    owner_id: str | None
    detail: dict[str, str]

    @property
    def claim_key(self) -> str:
        return alert_claim_key(self.event_id, self.channel_id)


def alert_claim_key(event_id: int, channel_id: str) -> str:
    return f"alert:{event_id}:{channel_id}"


def pending_alerts(session: Session, *, now: dt.datetime, limit: int = BATCH) -> list[PendingAlert]:
    """Alerts not yet delivered (nor given up), oldest first; one per event and channel."""
    delivered = exists().where(
        AlertDelivery.event_id == AlertEvent.id,
        AlertDelivery.channel_id == AlertSubscription.channel_id,
        settled(AlertDelivery),
    )
    rows = session.execute(
        select(AlertEvent, AlertSubscription.channel_id, AlertSubscription.language, Customer)
        .join(
            AlertSubscription,
            and_(
                AlertSubscription.topic == AlertEvent.topic,
                AlertSubscription.created_at <= AlertEvent.occurred_at,
                or_(
                    AlertSubscription.owner_id == ALL_OWNERS,
                    AlertSubscription.owner_id == AlertEvent.owner_id,
                ),
            ),
        )
        .join(Customer, Customer.id == AlertEvent.customer_id)
        .where(AlertEvent.occurred_at >= now - ALERT_WINDOW, Customer.erased_at.is_(None), ~delivered)
        .order_by(AlertEvent.id, AlertSubscription.channel_id, AlertSubscription.id)
        .limit(limit)
    )
    alerts: dict[tuple[int, str], PendingAlert] = {}
    for event, channel_id, language, customer in rows:
        alerts.setdefault(
            (event.id, channel_id),
            PendingAlert(
                event_id=event.id,
                channel_id=channel_id,
                language=language,
                topic=Topic(event.topic),
                occurred_at=event.occurred_at,
                customer=masked_customer(CustomerView.of(customer)),
                owner_id=event.owner_id,
                detail=dict(event.detail or {}),
            ),
        )
    return list(alerts.values())
