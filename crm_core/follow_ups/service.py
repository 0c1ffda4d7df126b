"""Setting, listing and closing follow-ups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.locks import HeldCustomer
from crm_core.customers.service import writable_customer
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Customer, FollowUp
from crm_core.text import clean_text

MAX_NOTE_LENGTH = 3_000
OPEN_STATUSES = ("open", "snoozed")


@dataclass(frozen=True)
class FollowUpView:
    id: int
    customer_id: int
    customer_name: str
    customer_external_id: str
    owner_id: str | None
    due_on: dt.date
    note: str
    status: str
    origin: str


def _view(row: FollowUp, customer: Customer | HeldCustomer) -> FollowUpView:
    return FollowUpView(
        row.id,
        customer.id,
        customer.name,
        customer.external_id,
        row.owner_id,
        row.due_on,
        row.note,
        row.status,
        row.origin,
    )


def add_follow_up(
    session: Session,
    *,
    actor: Actor,
    customer_external_id: str,
    due_on: dt.date,
    note: str = "",
    owner_id: str | None = None,
    origin: str = "manual",
    idempotency_key: str | None = None,
) -> FollowUpView:
    """Promise to get back to a customer on ``due_on``; the owner defaults to whoever sets it."""
    customer = writable_customer(session, customer_external_id)
    authorize(actor, Permission.FOLLOW_UP, customer_id=customer.id)
    clean_note = clean_text(note, field="note", max_length=MAX_NOTE_LENGTH)
    if idempotency_key:
        existing = session.scalars(
            select(FollowUp).where(FollowUp.idempotency_key == idempotency_key)
        ).first()
        if existing is not None:
            return _view(existing, customer)
    row = FollowUp(
        customer_id=customer.id,
        owner_id=owner_id or (actor.user_id if actor.surface in ("slack", "console") else customer.owner_id),
        due_on=due_on,
        note=clean_note,
        status="open",
        origin=origin,
        idempotency_key=idempotency_key,
    )
    session.add(row)
    session.flush()
    record(
        session, actor=actor, action="follow_up.add", customer_id=customer.id, detail={"follow_up_id": row.id}
    )
    return _view(row, customer)


def open_follow_ups(
    session: Session,
    *,
    actor: Actor,
    owner_id: str | None = None,
    customer_id: int | None = None,
    limit: int = 100,
) -> list[FollowUpView]:
    """Open and snoozed follow-ups that ``actor`` may see, oldest due first, so overdue ones lead."""
    authorize(actor, Permission.READ, customer_id=customer_id)
    query = (
        select(FollowUp, Customer)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.status.in_(OPEN_STATUSES))
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    if owner_id is not None:
        query = query.where(FollowUp.owner_id == owner_id)
    if customer_id is not None:
        query = query.where(FollowUp.customer_id == customer_id)
    return [_view(f, c) for f, c in session.execute(query)]


def _row(session: Session, follow_up_id: int, *, lock: bool = False) -> tuple[FollowUp, Customer]:
    """The follow-up and its customer; ``lock`` holds the row FOR UPDATE and reads it as committed, so
    of two changes clicked at once (Done and Snooze) the later waits and sees what the first did."""
    row = session.get(FollowUp, follow_up_id, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFound(
            "That follow-up no longer exists: it may have been merged or removed", key="follow_up.gone"
        )
    return row, session.get_one(Customer, row.customer_id)


def _change(session: Session, *, actor: Actor, follow_up_id: int, action: str) -> tuple[FollowUp, Customer]:
    row, customer = _row(session, follow_up_id, lock=True)
    authorize(actor, Permission.FOLLOW_UP, customer_id=row.customer_id)
    record(session, actor=actor, action=action, customer_id=row.customer_id, detail={"follow_up_id": row.id})
    return row, customer


def complete_follow_up(
    session: Session, *, actor: Actor, follow_up_id: int, now: dt.datetime
) -> FollowUpView:
    """Mark done; completing one that is already done changes nothing (buttons get clicked twice)."""
    row, customer = _change(session, actor=actor, follow_up_id=follow_up_id, action="follow_up.done")
    if row.status == "cancelled":
        raise _closed("marked done")
    if row.status != "done":
        row.status, row.done_at = "done", now
    return _view(row, customer)


def snoozed_until(due_on: dt.date, *, today: dt.date, days: int) -> dt.date:
    """Where a snooze of ``days`` moves a follow-up: from its due date if that is still ahead,
    from today if it is overdue, so snoozing never brings a follow-up closer."""
    return max(due_on, today) + dt.timedelta(days=days)


def snooze_follow_up(
    session: Session, *, actor: Actor, follow_up_id: int, days: int, today: dt.date
) -> FollowUpView:
    """Move a follow-up ``days`` on (``snoozed_until``), from the due date read under the row's lock."""
    row, customer = _change(session, actor=actor, follow_up_id=follow_up_id, action="follow_up.snooze")
    if row.status == "done":
        raise InvalidInput(
            "That follow-up was already marked done, so it was not snoozed", key="follow_up.already_done"
        )
    if row.status == "cancelled":
        raise _closed("snoozed")
    row.status, row.due_on = "snoozed", snoozed_until(row.due_on, today=today, days=days)
    return _view(row, customer)


def _closed(change: str) -> InvalidInput:
    return InvalidInput(f"That follow-up was cancelled, so it cannot be {change}", key="follow_up.closed")


def reassign_follow_up(session: Session, *, actor: Actor, follow_up_id: int, owner_id: str) -> FollowUpView:
    """Hand a follow-up to someone else; it stays open and keeps its due date."""
    row, customer = _change(session, actor=actor, follow_up_id=follow_up_id, action="follow_up.reassign")
    row.owner_id = owner_id
    return _view(row, customer)


def get_follow_up(session: Session, *, actor: Actor, follow_up_id: int) -> FollowUpView:
    """One follow-up with its customer's name, if ``actor`` may see it; audited as a read of the customer."""
    row, customer = _row(session, follow_up_id)
    authorize(actor, Permission.READ, customer_id=customer.id)
    record(session, actor=actor, action="customer.read", customer_id=customer.id)
    return _view(row, customer)
