"""Privacy requests about one customer: everything held about them (export), and erasure.

Erasure keeps the customer's row and anonymous aggregates, so KPIs and churn history stay true:
purchase amounts, dates, currencies and order numbers (the shop's own keys, needed to re-import
idempotently), and each interaction's kind, date, author and source. It removes what says who the
person is or what was said: the name (a placeholder "erased customer <id>" remains), the name key
(so search cannot find it), e-mail, phone, company, tags, custom fields, interaction summaries with
their Slack thread links and ids, idempotency keys (derived from content), follow-up notes; open
follow-ups are cancelled. Mentions of the person in other customers' interaction summaries and
follow-up notes (by name, e-mail or phone) become ``[erased]`` (``crm_core.privacy.mentions``), in
the same transaction. The bot's own Slack messages that named them are listed
(``crm_core.privacy.posted``), for the Slack layer to link or delete. Audit rows hold ids only and
stay. The erased row is closed: nothing new is logged to it (``writable_customer``). Making the
old bytes unrecoverable from the store's files is ``crm_core.privacy.scrub``, run after this
transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.locks import lock_for_change
from crm_core.errors import InvalidInput, NotFound
from crm_core.follow_ups.service import OPEN_STATUSES
from crm_core.identity.normalize import normalize_email
from crm_core.models import AuditEvent, Customer, CustomerScore, FollowUp, Interaction, Purchase
from crm_core.privacy.mentions import NO_MENTIONS, Person, Redacted, redact_mentions
from crm_core.privacy.posted import Posted, posted_naming
from crm_core.text import single_line

ERASED_SUMMARY = "(erased on request)"
MAX_SUBJECT_LENGTH = 254


@dataclass(frozen=True)
class Erasure:
    """What an erasure did; a repeated one (``already_erased``) changes nothing and counts zero."""

    customer_id: int
    external_id: str
    erased_at: dt.datetime
    interactions: int
    follow_ups: int
    purchases_kept: int
    already_erased: bool
    mentions: Redacted = NO_MENTIONS
    posted: tuple[Posted, ...] = ()


def find_subject(session: Session, *, query: str) -> Customer:
    """The customer a privacy request is about, by external id or exact e-mail (never a fuzzy name)."""
    text = single_line(query, field="customer", max_length=MAX_SUBJECT_LENGTH)
    customer = session.scalars(select(Customer).where(Customer.external_id == text)).first()
    if customer is not None:
        return customer
    by_email = session.scalars(select(Customer).where(Customer.email == normalize_email(text))).all()
    if len(by_email) > 1:
        raise InvalidInput(
            f"several customers have the e-mail {text!r} "
            f"({', '.join(c.external_id for c in by_email)}): give the external id",
            field="customer",
        )
    if not by_email:
        raise NotFound(
            f"no customer has the external id or e-mail {text!r}: `crm-bot find` looks customers up "
            "by name and shows their external ids",
            key="customer.gone",
            field="customer",
        )
    return by_email[0]


def export_customer_data(session: Session, *, actor: Actor, query: str) -> dict[str, Any]:
    """Everything held about one customer, as a JSON-ready document (texts, numbers, ISO times)."""
    customer = find_subject(session, query=query)
    authorize(actor, Permission.PRIVACY_EXPORT, customer_id=customer.id)
    interactions = _rows(session, Interaction, customer.id, Interaction.occurred_at)
    purchases = _rows(session, Purchase, customer.id, Purchase.occurred_at)
    follow_ups = _rows(session, FollowUp, customer.id, FollowUp.due_on)
    score = session.get(CustomerScore, customer.id)
    document = {
        "customer": _fields(customer, exclude=("id", "name_key", "phone_key")),
        "interactions": [_fields(row, exclude=("id", "customer_id")) for row in interactions],
        "purchases": [_fields(row, exclude=("id", "customer_id")) for row in purchases],
        "follow_ups": [_fields(row, exclude=("id", "customer_id")) for row in follow_ups],
        "analytics": _fields(score, exclude=("customer_id",)) if score else None,
        "audit_events": [_fields(event, exclude=("id",)) for event in _audit_trail(session, customer.id)],
    }
    record(
        session,
        actor=actor,
        action="privacy.export",
        customer_id=customer.id,
        detail={
            "interactions": len(interactions),
            "purchases": len(purchases),
            "follow_ups": len(follow_ups),
        },
    )
    return document


def erase_customer(session: Session, *, actor: Actor, query: str) -> Erasure:
    """Erase one customer's personal data (see the module docstring); repeating it is harmless."""
    customer = find_subject(session, query=query)
    # Held against merges and writers adding to it (crm_core.customers.locks) until this commits.
    lock_for_change(session, [customer])
    authorize(actor, Permission.PRIVACY_ERASE, customer_id=customer.id)
    purchases = session.scalar(select(func.count()).where(Purchase.customer_id == customer.id)) or 0
    if customer.erased_at is not None:
        record(
            session, actor=actor, action="privacy.erase", customer_id=customer.id, detail={"repeated": True}
        )
        posted = tuple(posted_naming(session, customer_id=customer.id))
        return Erasure(
            customer.id, customer.external_id, customer.erased_at, 0, 0, purchases, True, posted=posted
        )
    if session.get_bind().dialect.name == "sqlite":
        # Freed cells and pages are zeroed as they are freed, so the old texts do not linger in the
        # file until VACUUM. The setting stays on for this pooled connection, which only makes its
        # later deletes thorough too.
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    person = Person.of(customer.name, customer.email, customer.phone)  # before the row forgets them
    interactions = _erase_interactions(session, customer.id)
    follow_ups = _erase_follow_ups(session, customer.id)
    customer.name, customer.name_key = f"erased customer {customer.id}", ""
    customer.email = customer.phone = customer.phone_key = customer.company = None
    customer.tags, customer.custom_fields = [], {}
    # The name_key change moves the search index's stamp (migration 0002's triggers): cached
    # name indexes drop the erased name at their next search.
    customer.erased_at = customer.updated_at = now
    session.flush()
    mentions = redact_mentions(session, person=person, erased_customer_id=customer.id)
    posted = tuple(posted_naming(session, customer_id=customer.id))
    record(
        session,
        actor=actor,
        action="privacy.erase",
        customer_id=customer.id,
        detail={
            "interactions": interactions,
            "follow_ups": follow_ups,
            "purchases_kept": purchases,
            "mentions_in_interactions": mentions.interactions,
            "mentions_in_follow_ups": mentions.follow_ups,
            "slack_messages": len(posted),
        },
    )
    return Erasure(
        customer.id, customer.external_id, now, interactions, follow_ups, purchases, False, mentions, posted
    )


def _erase_interactions(session: Session, customer_id: int) -> int:
    erased = session.execute(
        update(Interaction)
        .where(Interaction.customer_id == customer_id)
        .values(
            summary=ERASED_SUMMARY,
            permalink=None,
            slack_channel_id=None,
            slack_thread_ts=None,
            idempotency_key=None,
        )
        .returning(Interaction.id)
    )
    return len(erased.all())


def _erase_follow_ups(session: Session, customer_id: int) -> int:
    session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == customer_id, FollowUp.status.in_(OPEN_STATUSES))
        .values(status="cancelled")
    )
    erased = session.execute(
        update(FollowUp).where(FollowUp.customer_id == customer_id).values(note="").returning(FollowUp.id)
    )
    return len(erased.all())


def _rows(session: Session, model: Any, customer_id: int, order: Any) -> list[Any]:
    return list(
        session.scalars(select(model).where(model.customer_id == customer_id).order_by(order, model.id))
    )


def _audit_trail(session: Session, customer_id: int) -> list[AuditEvent]:
    """Events about the customer and about every record merged into it (found through merge events)."""
    ids, pending = {customer_id}, [customer_id]
    while pending:
        merges = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "customer.merge", AuditEvent.customer_id.in_(pending)
            )
        )
        pending = [m for m in _merged_ids(merges) if m not in ids]
        ids.update(pending)
    query = select(AuditEvent).where(AuditEvent.customer_id.in_(ids)).order_by(AuditEvent.id)
    return list(session.scalars(query))


def _merged_ids(details: Iterable[dict[str, Any]]) -> list[int]:
    return [int(detail["merged_customer_id"]) for detail in details if "merged_customer_id" in detail]


def _fields(row: Any, *, exclude: tuple[str, ...]) -> dict[str, Any]:
    return {
        column.key: _json_value(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in exclude
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, (int, float, str, bool, list, dict)) or value is None:
        return value
    return str(value)  # Decimal amounts, exactly as stored
