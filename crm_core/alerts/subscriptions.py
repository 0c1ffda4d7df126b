"""Which channels want which alerts: ``/crm subscribe``, ``subscriptions`` and ``unsubscribe``.

Managers and admins only (``Permission.MANAGE_ALERTS``): a subscription puts customers' names in a
channel. A channel gets only events that happen after it subscribed, so subscribing never floods it
with history. Subscribing again to a topic (for the same owner) changes its language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.alerts.topics import Topic
from crm_core.audit.service import record
from crm_core.models import AlertSubscription

ALL_OWNERS = ""


@dataclass(frozen=True)
class Subscription:
    channel_id: str
    topic: Topic
    owner_id: str | None  # only this owner's customers; None for everyone's
    language: str
    created_by: str
    created_at: dt.datetime


def _view(row: AlertSubscription) -> Subscription:
    return Subscription(
        row.channel_id, Topic(row.topic), row.owner_id or None, row.language, row.created_by, row.created_at
    )


def subscribe(
    session: Session, *, actor: Actor, channel_id: str, topic: Topic, owner_id: str | None, language: str
) -> Subscription:
    authorize(actor, Permission.MANAGE_ALERTS)
    owner = owner_id or ALL_OWNERS
    row = session.scalars(
        select(AlertSubscription).where(
            AlertSubscription.channel_id == channel_id,
            AlertSubscription.topic == topic.value,
            AlertSubscription.owner_id == owner,
        )
    ).first()
    if row is None:
        row = AlertSubscription(
            channel_id=channel_id,
            topic=topic.value,
            owner_id=owner,
            language=language,
            created_by=actor.user_id,
        )
        session.add(row)
    else:
        row.language = language
    session.flush()
    record(
        session, actor=actor, action="alerts.subscribe", detail={"channel": channel_id, "topic": topic.value}
    )
    return _view(row)


def unsubscribe(session: Session, *, actor: Actor, channel_id: str, topic: Topic) -> int:
    """End the channel's subscriptions to ``topic`` (for every owner); how many there were."""
    authorize(actor, Permission.MANAGE_ALERTS)
    ended = session.scalars(
        delete(AlertSubscription)
        .where(AlertSubscription.channel_id == channel_id, AlertSubscription.topic == topic.value)
        .returning(AlertSubscription.id)
    ).all()
    record(
        session,
        actor=actor,
        action="alerts.unsubscribe",
        detail={"channel": channel_id, "topic": topic.value},
    )
    return len(ended)


def channel_subscriptions(session: Session, *, actor: Actor, channel_id: str) -> list[Subscription]:
    authorize(actor, Permission.MANAGE_ALERTS)
    rows = session.scalars(
        select(AlertSubscription)
        .where(AlertSubscription.channel_id == channel_id)
        .order_by(AlertSubscription.topic, AlertSubscription.owner_id)
    )
    return [_view(row) for row in rows]
