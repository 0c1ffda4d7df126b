"""Recording audit events inside the caller's transaction, so an action and its trace commit together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.models import AuditEvent


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    customer_id: int | None = None,
    allowed: bool = True,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit row. ``detail`` must hold ids and counts only: erasure has to leave no copy here."""
    session.add(
        AuditEvent(
            actor=actor.user_id,
            surface=actor.surface,
            action=action,
            customer_id=customer_id,
            allowed=allowed,
            detail=detail or {},
        )
    )
