"""Recording audit events inside the caller's transaction, so an action and its trace commit together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Table, bindparam, insert
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.models import AuditEvent, stored_now

_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
# Built once and executed with the row's values: the ORM's flush of one new row (its unit of work,
# identity map and events) costs several times the insert itself on a log's path.
_INSERT = insert(_AUDIT)
# The same row as a data-modifying CTE (PostgreSQL), for a statement that writes the action it
# records: one round trip instead of two, in the same statement, so they stand or fall together.
# Its parameters are ``written_audit``'s, named apart from the statement's own.
WRITTEN_AUDIT_CTE: CTE = (
    insert(_AUDIT)
    .values(
        occurred_at=bindparam("audit_occurred_at", type_=_AUDIT.c.occurred_at.type),
        actor=bindparam("audit_actor", type_=_AUDIT.c.actor.type),
        action=bindparam("audit_action", type_=_AUDIT.c.action.type),
        surface=bindparam("audit_surface", type_=_AUDIT.c.surface.type),
        customer_id=bindparam("audit_customer_id", type_=_AUDIT.c.customer_id.type),
        allowed=bindparam("audit_allowed", type_=_AUDIT.c.allowed.type),
        detail=bindparam("audit_detail", type_=_AUDIT.c.detail.type),
    )
    .cte("audited")
)


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


def record_written(
    session: Session,
    *,
    actor: Actor,
    action: str,
    customer_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``record`` for a unit that writes (``transaction``), inserted at once as one Core statement.

    The row is in the caller's transaction when this returns, so it commits or rolls back with the
    action like any other. Not for ``reading``: its audit rows are the pending ones it collects, and a
    statement run in its transaction is rolled back (``crm_core.interactions`` checks before calling).
    """
    session.connection().execute(
        _INSERT,
        {
            "actor": actor.user_id,
            "surface": actor.surface,
            "action": action,
            "customer_id": customer_id,
            "allowed": True,
            "detail": detail or {},
        },
    )


def written_audit(
    *, actor: Actor, action: str, customer_id: int | None = None, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The parameters of ``WRITTEN_AUDIT_CTE``: the row ``record_written`` would insert."""
    return {
        "audit_occurred_at": stored_now(),
        "audit_actor": actor.user_id,
        "audit_action": action,
        "audit_surface": actor.surface,
        "audit_customer_id": customer_id,
        "audit_allowed": True,
        "audit_detail": detail or {},
    }
