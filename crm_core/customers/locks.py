"""Row locks on customers, so that merge, erase and the writers that add to a customer never cross.

On PostgreSQL a merge moves a customer's rows with UPDATE and then deletes the customer; a row another
transaction commits in between would be cascaded away after its author was told it was saved. So:
- merge and erase lock the customers they change ``FOR UPDATE`` before touching anything;
- writers that add rows to a customer (an interaction, a follow-up, imported purchases) first lock it
  ``FOR KEY SHARE``, the lock PostgreSQL's own foreign-key check takes, but at the start.

The two conflict, so one waits for the other: a merge waits for the writer's commit and then moves its
row too; a writer that waited for a merge finds the customer gone and follows the merge to the kept
customer; a writer that waited for an erasure sees the customer erased. Locks are taken in id order, so
two merges of the same customers cannot deadlock. SQLite has no row locks and needs none: the write
lock taken at ``BEGIN IMMEDIATE`` (``crm_core.store``) already runs writers one at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from crm_core.errors import NotFound
from crm_core.models import AuditEvent, Customer

# Bounds the IN list of one locking statement when an import holds many customers.
LOCK_CHUNK = 10_000


def gone(external_id: str) -> NotFound:
    return NotFound(
        f"No customer has the external id {external_id!r}: `crm-bot find` lists them",
        key="customer.gone",
        field="customer",
    )


def lock_for_change(session: Session, customers: Sequence[Customer]) -> None:
    """Lock ``customers`` FOR UPDATE and reload them as committed; NotFound if one was merged away."""
    ids = sorted(customer.id for customer in customers)
    query = (
        select(Customer)
        .where(Customer.id.in_(ids))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    locked = {customer.id for customer in session.scalars(query)}
    for customer in customers:
        if customer.id not in locked:
            raise gone(customer.external_id)


def hold_for_adding(session: Session, customer_ids: Iterable[int]) -> dict[int, int]:
    """Lock customers FOR KEY SHARE before rows are added to them; returns where each id's rows go.

    That is the id itself, or, for a customer merged away meanwhile, the customer it was merged into
    (also locked). An id missing from the result no longer exists and was not merged.
    """
    route: dict[int, int | None] = {customer_id: customer_id for customer_id in set(customer_ids)}
    seen: set[int] = set()
    held: set[int] = set()
    pending = set(route)
    while pending:
        seen |= pending
        present = _key_share(session, pending)
        held |= present
        merged = _merged_into(session, pending - present)
        for origin, target in route.items():
            if target is not None and target in pending and target not in present:
                route[origin] = merged.get(target)
        pending = set(merged.values()) - seen
    return {origin: target for origin, target in route.items() if target in held}


@dataclass(frozen=True)
class HeldCustomer:
    """What a writer adding rows to a customer reads of it: the columns it needs, not the JSON ones."""

    id: int
    external_id: str
    name: str
    owner_id: str | None
    erased_at: dt.datetime | None


_HELD_COLUMNS = (Customer.id, Customer.external_id, Customer.name, Customer.owner_id, Customer.erased_at)
# Built once: the statement's construction cost as much CPU as its round trip (a /crm log's hot path).
_HELD_AT_ONCE = (
    select(*_HELD_COLUMNS)
    .where(Customer.external_id == bindparam("external_id"))
    .with_for_update(read=True, key_share=True, skip_locked=True)
)
_HELD_BY_ID = select(*_HELD_COLUMNS).where(Customer.id == bindparam("customer_id"))


def held_at_once(session: Session, external_id: str) -> HeldCustomer | None:
    """The customer with ``external_id``, locked FOR KEY SHARE and read as committed, in one statement;
    None when it cannot be held at once.

    That is a writer's usual case, read and held in one round trip. ``SKIP LOCKED`` makes a customer
    that a merge or erasure holds (FOR UPDATE) come back as None rather than be waited for, as does
    one that is not there: the caller then takes the long way (``hold_for_adding``), which waits and
    follows a merge. Waiting here instead would lose the customer's id, and with it the merge's trail.
    Core on the session's connection, not an ORM load: the row is read as committed without
    ``populate_existing``, and the whole customer (tags, custom fields) is not needed to add to it.
    """
    if session.autoflush:  # as the ORM's query flushed first: a customer added in this unit is found
        session.flush()
    return _held(session.connection().execute(_HELD_AT_ONCE, {"external_id": external_id}).first())


def held_by_id(session: Session, customer_id: int) -> HeldCustomer | None:
    """``held_at_once``'s columns of a customer ``hold_for_adding`` already holds."""
    return _held(session.connection().execute(_HELD_BY_ID, {"customer_id": customer_id}).first())


def _held(row: Row[int, str, str, str | None, dt.datetime | None] | None) -> HeldCustomer | None:
    if row is None:
        return None
    return HeldCustomer(row.id, row.external_id, row.name, row.owner_id, row.erased_at)


def _key_share(session: Session, customer_ids: set[int]) -> set[int]:
    ordered = sorted(customer_ids)
    present: set[int] = set()
    for start in range(0, len(ordered), LOCK_CHUNK):
        query = (
            select(Customer.id)
            .where(Customer.id.in_(ordered[start : start + LOCK_CHUNK]))
            .order_by(Customer.id)
            .with_for_update(read=True, key_share=True)
        )
        present.update(session.scalars(query))
    return present


def _merged_into(session: Session, customer_ids: set[int]) -> dict[int, int]:
    """Merged customer id -> the id it was merged into, from the merges' audit events (ids only)."""
    if not customer_ids:
        return {}
    merged_id = AuditEvent.detail["merged_customer_id"].as_integer()
    rows = session.execute(
        select(merged_id, AuditEvent.customer_id).where(
            AuditEvent.action == "customer.merge", merged_id.in_(sorted(customer_ids))
        )
    )
    return {merged: kept for merged, kept in rows if kept is not None}
