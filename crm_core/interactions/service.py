"""Logging touch points. A Slack thread maps to one interaction through its idempotency key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.service import customer_by_external_id
from crm_core.errors import InvalidInput
from crm_core.models import INTERACTION_KINDS, Interaction
from crm_core.rules.service import apply_follow_up_rules

MAX_SUMMARY_LENGTH = 40_000


@dataclass(frozen=True)
class InteractionView:
    id: int
    customer_id: int
    kind: str
    summary: str
    author: str | None
    occurred_at: dt.datetime
    permalink: str | None

    @classmethod
    def of(cls, row: Interaction) -> InteractionView:
        return cls(row.id, row.customer_id, row.kind, row.summary, row.author, row.occurred_at, row.permalink)


@dataclass(frozen=True)
class SlackThread:
    """Where in Slack an interaction happened; one thread is one interaction."""

    channel_id: str
    thread_ts: str
    permalink: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"slack-thread:{self.channel_id}:{self.thread_ts}"


def validate_kind(kind: str) -> str:
    clean = kind.strip().lower()
    if clean not in INTERACTION_KINDS:
        raise InvalidInput(
            f"kind {kind!r} is not one of {', '.join(INTERACTION_KINDS)}",
            field="kind",
            key="input.kind_unknown",
            params={"kind": kind},
        )
    return clean


def validate_summary(summary: str) -> str:
    clean = summary.strip()
    if not clean:
        raise InvalidInput(
            "summary is empty: say in a few words what happened", field="summary", key="input.summary_empty"
        )
    if len(clean) > MAX_SUMMARY_LENGTH:
        raise InvalidInput(
            f"summary is longer than {MAX_SUMMARY_LENGTH} characters: shorten it",
            field="summary",
            key="input.summary_too_long",
            params={"max": MAX_SUMMARY_LENGTH},
        )
    return clean


def log_interaction(
    session: Session,
    *,
    actor: Actor,
    customer_external_id: str,
    kind: str,
    summary: str,
    occurred_at: dt.datetime,
    thread: SlackThread | None = None,
    idempotency_key: str | None = None,
) -> tuple[InteractionView, bool]:
    """Log a touch point; returns it and whether it was new.

    When the same idempotency key (a Slack thread, a retried request) was logged before, the stored
    interaction is updated with the latest text instead of a second one being added.
    """
    customer = customer_by_external_id(session, customer_external_id)
    clean_kind, clean_summary = validate_kind(kind), validate_summary(summary)
    key = idempotency_key or (thread.idempotency_key if thread else None)
    existing = (
        session.scalars(select(Interaction).where(Interaction.idempotency_key == key)).first()
        if key
        else None
    )
    if existing is not None:
        existing.summary = clean_summary
        session.flush()
        record(session, actor=actor, action="interaction.update", customer_id=existing.customer_id)
        return InteractionView.of(existing), False
    row = Interaction(
        customer_id=customer.id,
        kind=clean_kind,
        summary=clean_summary,
        author=actor.user_id,
        occurred_at=occurred_at,
        source=actor.surface,
        slack_channel_id=thread.channel_id if thread else None,
        slack_thread_ts=thread.thread_ts if thread else None,
        permalink=thread.permalink if thread else None,
        idempotency_key=key,
    )
    session.add(row)
    session.flush()
    record(session, actor=actor, action="interaction.log", customer_id=customer.id)
    apply_follow_up_rules(session, actor=actor, customer_ids=[customer.id])
    return InteractionView.of(row), True


def recent_interactions(session: Session, *, customer_id: int, limit: int = 5) -> list[InteractionView]:
    rows = session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [InteractionView.of(r) for r in rows]
