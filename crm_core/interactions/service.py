"""Logging touch points. A Slack thread maps to one interaction through its idempotency key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.alerts.events import record_event
from crm_core.alerts.topics import Topic
from crm_core.audit.service import WRITTEN_AUDIT_CTE, record, record_written, written_audit
from crm_core.customer_view import CustomerView
from crm_core.customers.service import writable_customer
from crm_core.errors import InvalidInput
from crm_core.interactions.kinds import recorded_kind
from crm_core.models import INTERACTION_KINDS, Customer, Interaction, stored_now
from crm_core.rules.service import apply_follow_up_rules
from crm_core.store import is_reading
from crm_core.text import clean_text

MAX_SUMMARY_LENGTH = 40_000
_INTERACTIONS: Table = Interaction.__table__  # type: ignore[assignment]
# A new interaction goes to the connection as one Core statement built once: the ORM's flush of one
# new row (unit of work, identity map, events) cost more Python than the insert itself, on every log.
_INSERT = insert(_INTERACTIONS).returning(_INTERACTIONS.c.id)
# On PostgreSQL the interaction and its audit row ("interaction.log") are one statement: the audit
# insert rides along as a data-modifying CTE, one round trip fewer per log, and either both rows
# are written or neither (a unique key refusing the interaction refuses its audit row with it).
_INSERT_AUDITED = (
    insert(_INTERACTIONS)
    .values({c.name: bindparam(c.name, type_=c.type) for c in _INTERACTIONS.c if c.name != "id"})
    .returning(_INTERACTIONS.c.id)
    .add_cte(WRITTEN_AUDIT_CTE)
)


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
    """The stored kind for a word: any word ``/crm log`` accepts (電話, meet, …), or a purchase."""
    clean = recorded_kind(kind)
    if clean is None:
        raise InvalidInput(
            f"kind {kind!r} is not one of {', '.join(INTERACTION_KINDS)}",
            field="kind",
            key="input.kind_unknown",
            params={"kind": kind},
        )
    return clean


def validate_summary(summary: str) -> str:
    clean = clean_text(summary, field="summary", max_length=MAX_SUMMARY_LENGTH)
    if not clean:
        raise InvalidInput(
            "summary is empty: say in a few words what happened", field="summary", key="input.summary_empty"
        )
    return clean


class Outcome(StrEnum):
    """What logging did: added a row, changed the stored one, or found it already saying the same."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


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
) -> tuple[InteractionView, Outcome]:
    """Log a touch point; returns it and whether it was new, changed or already logged just so.

    When the same idempotency key (a Slack thread, a retried request) was logged before, that one
    interaction takes the latest customer, kind and text instead of a second one being added: the
    latest word on a thread wins, so logging it again to the right customer corrects a wrong pick.
    """
    customer = writable_customer(session, customer_external_id)
    authorize(actor, Permission.LOG, customer_id=customer.id)
    clean_kind, clean_summary = validate_kind(kind), validate_summary(summary)
    key = idempotency_key or (thread.idempotency_key if thread else None)
    existing = _by_key(session, key)
    if existing is None:
        values = {
            "customer_id": customer.id,
            "kind": clean_kind,
            "summary": clean_summary,
            "author": actor.user_id,
            "occurred_at": occurred_at,
            "source": actor.surface,
            "slack_channel_id": thread.channel_id if thread else None,
            "slack_thread_ts": thread.thread_ts if thread else None,
            "permalink": thread.permalink if thread else None,
            "idempotency_key": key,
        }
        together = session.get_bind().dialect.name == "postgresql"  # see _INSERT_AUDITED
        audit = (
            written_audit(actor=actor, action="interaction.log", customer_id=customer.id)
            if together
            else None
        )
        inserted = _insert_unless_logged_meanwhile(session, values, audit)
        if isinstance(inserted, int):
            if audit is None:
                record_written(session, actor=actor, action="interaction.log", customer_id=customer.id)
            if clean_kind == "support":
                record_event(
                    session,
                    topic=Topic.SUPPORT,
                    customer_id=customer.id,
                    owner_id=customer.owner_id,
                    detail={"author": actor.user_id},
                )
            apply_follow_up_rules(session, actor=actor, customer_ids=[customer.id])
            view = InteractionView(
                inserted,
                customer.id,
                clean_kind,
                clean_summary,
                actor.user_id,
                occurred_at,
                thread.permalink if thread else None,
            )
            return view, Outcome.CREATED
        existing = inserted
    latest = (customer.id, clean_kind, clean_summary)
    if (existing.customer_id, existing.kind, existing.summary) == latest:
        return InteractionView.of(existing), Outcome.UNCHANGED
    existing.customer_id, existing.kind, existing.summary = latest
    session.flush()
    record(session, actor=actor, action="interaction.update", customer_id=customer.id)
    return InteractionView.of(existing), Outcome.UPDATED


def _by_key(session: Session, key: str | None) -> Interaction | None:
    if key is None:
        return None
    return session.scalars(select(Interaction).where(Interaction.idempotency_key == key)).first()


def _insert_unless_logged_meanwhile(
    session: Session, values: dict[str, Any], audit: dict[str, Any] | None
) -> int | Interaction:
    """Insert the row of ``values`` (and, given ``audit``, its audit row in the same statement) and
    return its id, or return the row with its key that a concurrent transaction committed first.

    Slack delivers a retried event while the first delivery may still be logging it; on PostgreSQL
    both can miss each other's row and the unique key refuses the second insert. The savepoint keeps
    this transaction usable, and the committed row is then updated like any repeated log. A row
    without a key (``/crm log``) cannot meet another: it is inserted without the savepoint's two
    round trips.
    """
    connection = _writing(session)
    if values["idempotency_key"] is None:
        return _inserted(connection, values, audit)
    try:
        with session.begin_nested():
            # The savepoint is emitted when the nested transaction takes its connection: a statement
            # on the connection taken before it would run outside it, and its failure would abort
            # the whole transaction instead of rolling back to the savepoint.
            return _inserted(session.connection(), values, audit)
    except IntegrityError:
        existing = _by_key(session, values["idempotency_key"])
        if existing is None:
            raise
        return existing


def _inserted(connection: Connection, values: dict[str, Any], audit: dict[str, Any] | None) -> int:
    if audit is None:
        inserted: int = connection.execute(_INSERT, values).scalar_one()
        return inserted
    audited: int = connection.execute(
        _INSERT_AUDITED, {**values, "created_at": stored_now(), **audit}
    ).scalar_one()
    return audited


def _writing(session: Session) -> Connection:
    """The connection of the caller's transaction, refused inside ``reading``: its transaction is
    rolled back at the end, so a statement run there would be lost without a word (the ORM's pending
    rows it refuses, but a Core statement goes straight to the connection)."""
    connection = session.connection()
    if is_reading(connection):
        raise RuntimeError("reading(): only audit rows may be added; use transaction() to write")
    return connection


def recent_interactions(session: Session, *, customer_id: int, limit: int = 5) -> list[InteractionView]:
    rows = session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [InteractionView.of(r) for r in rows]


@dataclass(frozen=True)
class TouchedCustomer:
    customer: CustomerView
    last_touched_at: dt.datetime


def customers_touched_by(
    session: Session, *, actor: Actor, author: str, limit: int = 10
) -> list[TouchedCustomer]:
    """Customers ``author`` logged interactions with, the most recently touched first (App Home),
    if ``actor`` may see customers."""
    authorize(actor, Permission.READ)
    last = (
        select(Interaction.customer_id, func.max(Interaction.occurred_at).label("last_at"))
        .where(Interaction.author == author)
        .group_by(Interaction.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(Customer, last.c.last_at)
        .join(last, last.c.customer_id == Customer.id)
        .order_by(last.c.last_at.desc(), Customer.id)
        .limit(limit)
    )
    return [TouchedCustomer(CustomerView.of(customer), last_at) for customer, last_at in rows]
