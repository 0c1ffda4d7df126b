"""Reading the audit trail (admins only): who read or changed which customer, newest events kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.service import customer_by_external_id
from crm_core.models import AuditEvent, Customer


@dataclass(frozen=True)
class AuditEntry:
    """``customer_external_id`` is None for events about no customer, or one merged away since."""

    occurred_at: dt.datetime
    actor: str
    surface: str
    action: str
    customer_id: int | None
    customer_external_id: str | None
    allowed: bool


def audit_events(
    session: Session,
    *,
    actor: Actor,
    customer_external_id: str | None = None,
    user_id: str | None = None,
    since: dt.date | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The latest ``limit`` matching events, oldest first; ``since`` is a UTC date.

    Reading the trail is itself recorded (after the query, so it never lists itself).
    """
    authorize(actor, Permission.READ_AUDIT)
    query = (
        select(AuditEvent, Customer.external_id)
        .outerjoin(Customer, Customer.id == AuditEvent.customer_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    customer_id = None
    if customer_external_id is not None:
        customer_id = customer_by_external_id(session, customer_external_id).id
        query = query.where(AuditEvent.customer_id == customer_id)
    if user_id is not None:
        query = query.where(AuditEvent.actor == user_id)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= dt.datetime.combine(since, dt.time()))
    entries = [
        AuditEntry(
            event.occurred_at,
            event.actor,
            event.surface,
            event.action,
            event.customer_id,
            external_id,
            event.allowed,
        )
        for event, external_id in session.execute(query)
    ]
    record(
        session, actor=actor, action="audit.read", customer_id=customer_id, detail={"events": len(entries)}
    )
    return entries[::-1]
