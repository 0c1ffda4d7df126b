"""Customer records: creation with duplicate checks, lookup by external id, and merging."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import inspect, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.alerts.events import record_event
from crm_core.alerts.topics import Topic
from crm_core.audit.service import record
from crm_core.customer_view import CustomerView
from crm_core.customers.locks import (
    HeldCustomer,
    gone,
    held_at_once,
    held_by_id,
    hold_for_adding,
    lock_for_change,
)
from crm_core.customers.views import CreatedCustomer, MergeResult
from crm_core.errors import DuplicateCustomer, InvalidInput
from crm_core.identity.normalize import (
    is_valid_email,
    normalize_email,
    normalize_name,
    phone_digits,
    strip_format_characters,
)
from crm_core.identity.phones import phone_key
from crm_core.identity.search import search_customers
from crm_core.models import LIFECYCLE_STAGES, Customer, FollowUp, Interaction, PostedMessage, Purchase
from crm_core.text import clean_text, single_line

LIKELY_DUPLICATE_SCORE = 90.0
# Limits mirror the store's column sizes, so a long value is a clear message, never a database error.
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_PHONE_LENGTH = 40
MAX_COMPANY_LENGTH = 200
MAX_EXTERNAL_ID_LENGTH = 64
MAX_OWNER_ID_LENGTH = 32
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_FIELD_NAME_LENGTH = 64
MAX_CUSTOM_FIELD_VALUE_LENGTH = 2_000


def new_external_id() -> str:
    return f"cus_{secrets.token_hex(6)}"


def clean_contact(
    *, name: str, email: str | None, phone: str | None
) -> tuple[str, str, str | None, str | None, str | None]:
    """Validate and normalise what identifies a customer: (name, name_key, email, phone, phone_key).

    The name and phone are kept as typed, minus invisible format characters (zero-width, bidi
    controls: ``strip_format_characters``), which would make them display as something they are not.
    """
    name = single_line(strip_format_characters(name), field="name", max_length=MAX_NAME_LENGTH)
    if not name:
        raise InvalidInput("name is empty", field="name", key="input.name_empty")
    name_key = normalize_name(name) or name.casefold()
    given_email = single_line(email or "", field="email", max_length=MAX_EMAIL_LENGTH)
    clean_email = normalize_email(given_email) or None
    if clean_email is not None and not is_valid_email(clean_email):
        raise InvalidInput(
            f"e-mail {email!r} is not a valid address", field="email", key="input.email_invalid"
        )
    clean_phone = (
        single_line(strip_format_characters(phone or ""), field="phone", max_length=MAX_PHONE_LENGTH) or None
    )
    if clean_phone is not None and len(phone_digits(clean_phone)) < 6:
        raise InvalidInput(f"phone {phone!r} needs at least 6 digits", field="phone", key="input.phone_short")
    key = phone_key(clean_phone) if clean_phone else None
    return name, name_key, clean_email, clean_phone, key


def find_contact_owner(session: Session, *, email: str | None, phone_key: str | None) -> Customer | None:
    """The existing customer who already has this e-mail or phone: the same person, never a second record."""
    conditions = []
    if email:
        conditions.append(Customer.email == email)
    if phone_key:
        conditions.append(Customer.phone_key == phone_key)
    if not conditions:
        return None
    return session.scalars(select(Customer).where(or_(*conditions)).limit(1)).first()


def create_customer(
    session: Session,
    *,
    actor: Actor,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    owner_id: str | None = None,
    tags: Iterable[str] = (),
    external_id: str | None = None,
    lifecycle_stage: str = "customer",
    custom_fields: dict[str, Any] | None = None,
) -> CreatedCustomer:
    """Create a customer unless their e-mail or phone is already known; report near-identical names."""
    authorize(actor, Permission.CREATE)
    name, name_key, clean_email, clean_phone, key = clean_contact(name=name, email=email, phone=phone)
    if lifecycle_stage not in LIFECYCLE_STAGES:
        raise InvalidInput(f"lifecycle stage must be one of {', '.join(LIFECYCLE_STAGES)}")
    existing = find_contact_owner(session, email=clean_email, phone_key=key)
    if existing is not None:
        raise _duplicate(existing, clean_email)
    external_id = (
        single_line(external_id or "", field="external_id", max_length=MAX_EXTERNAL_ID_LENGTH)
        or new_external_id()
    )
    if session.scalars(select(Customer.id).where(Customer.external_id == external_id)).first():
        raise InvalidInput(f"external id {external_id!r} is already used by another customer")
    similar = search_customers(session, query=name, limit=5, cutoff=LIKELY_DUPLICATE_SCORE)
    customer = Customer(
        external_id=external_id,
        name=name,
        name_key=name_key,
        email=clean_email,
        phone=clean_phone,
        phone_key=key,
        company=single_line(company or "", field="company", max_length=MAX_COMPANY_LENGTH) or None,
        owner_id=single_line(owner_id or "", field="owner", max_length=MAX_OWNER_ID_LENGTH) or None,
        lifecycle_stage=lifecycle_stage,
        tags=clean_tags(tags),
        custom_fields=clean_custom_fields(custom_fields or {}),
    )
    _insert_unless_created_meanwhile(session, customer)
    record(session, actor=actor, action="customer.create", customer_id=customer.id)
    # Imports insert in bulk, not through here: a thousand rows imported are no thousand alerts.
    record_event(session, topic=Topic.NEW_CUSTOMER, customer_id=customer.id, owner_id=customer.owner_id)
    return CreatedCustomer(
        customer=CustomerView.of(customer),
        likely_duplicates=tuple(m.customer for m in similar if m.matched_on == "name"),
    )


def _duplicate(existing: Customer, email: str | None) -> DuplicateCustomer:
    return DuplicateCustomer(
        f"{existing.name} ({existing.external_id}) already has this e-mail or phone: "
        "log to that customer instead, or merge the records",
        existing.external_id,
        existing_name=existing.name,
        field="email" if email is not None and existing.email == email else "phone",
    )


def _insert_unless_created_meanwhile(session: Session, customer: Customer) -> None:
    """Insert ``customer``; one with its e-mail or phone that a concurrent transaction committed first
    makes the same refusal as one found before (the unique keys of migration 0003 catch that race).

    The savepoint keeps this transaction usable to read who got there first.
    """
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        existing = find_contact_owner(session, email=customer.email, phone_key=customer.phone_key)
        if existing is None:
            raise
        raise _duplicate(existing, customer.email) from None


def clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = {single_line(tag, field="tag", max_length=MAX_TAG_LENGTH) for tag in tags} - {""}
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(
            f"a customer can have at most {MAX_TAGS} tags", field="tags", key="input.too_many_tags"
        )
    return sorted(cleaned)


def clean_custom_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Named, bounded custom fields holding text, numbers, booleans or nothing (what JSON stores alike)."""
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise InvalidInput(
            f"a customer can have at most {MAX_CUSTOM_FIELDS} custom fields",
            field="custom_fields",
            key="input.too_many_custom_fields",
        )
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        key = single_line(str(name), field="custom_field", max_length=MAX_CUSTOM_FIELD_NAME_LENGTH)
        if not key:
            raise InvalidInput("a custom field has no name", field="custom_fields", key="input.custom_field")
        if isinstance(value, str):
            value = clean_text(value, field="custom_field", max_length=MAX_CUSTOM_FIELD_VALUE_LENGTH)
        elif not (value is None or isinstance(value, bool | int) or _finite(value)):
            raise InvalidInput(
                f"custom field {key!r} must hold text, a number, true/false or nothing",
                field="custom_fields",
                key="input.custom_field",
            )
        cleaned[key] = value
    return cleaned


def _finite(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def customer_by_external_id(session: Session, external_id: str) -> Customer:
    customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).first()
    if customer is None:
        raise gone(external_id)
    return customer


def writable_customer(session: Session, external_id: str) -> HeldCustomer:
    """The customer to add to, held until commit (``crm_core.customers.locks``), or the one it was
    merged into meanwhile; refused once erased, since the person asked for nothing to be kept."""
    customer = held_at_once(session, external_id)
    if customer is None:  # a merge or erasure holds it, or there is none: wait, follow a merge
        found = customer_by_external_id(session, external_id)
        target = hold_for_adding(session, [found.id]).get(found.id)
        customer = None if target is None else held_by_id(session, target)
        if customer is None:
            raise gone(external_id)
    refuse_erased(customer)
    return customer


def refuse_erased(customer: Customer | HeldCustomer) -> None:
    if customer.erased_at is not None:
        raise InvalidInput(
            f"{customer.external_id}'s personal data was erased on request, so nothing new is added to "
            "it: if they are a customer again, add them as a new customer",
            key="customer.erased",
            field="customer",
        )


def get_customer(session: Session, *, actor: Actor, external_id: str) -> CustomerView:
    customer = customer_by_external_id(session, external_id)
    authorize(actor, Permission.READ, customer_id=customer.id)
    record(session, actor=actor, action="customer.read", customer_id=customer.id)
    return CustomerView.of(customer)


def merge_customers(session: Session, *, actor: Actor, keep: str, other: str) -> MergeResult:
    """Fold ``other`` into ``keep``: its timeline, purchases and follow-ups move; nothing is lost.

    Contact details that ``keep`` lacks are taken from ``other``; tags are united; custom fields of
    ``keep`` win on conflict and those only ``other`` had are kept.
    """
    if keep == other:
        raise InvalidInput("cannot merge a customer into itself: give two different external ids")
    kept, removed = customer_by_external_id(session, keep), customer_by_external_id(session, other)
    lock_for_change(session, [kept, removed])
    refuse_erased(kept)
    refuse_erased(removed)
    authorize(actor, Permission.MERGE, customer_id=kept.id)
    moved = {
        model.__tablename__: len(
            session.scalars(
                update(model)
                .where(model.customer_id == removed.id)
                .values(customer_id=kept.id)
                .returning(model.id)
            ).all()
        )
        for model in (Interaction, Purchase, FollowUp)
    }
    taken = {
        attribute: getattr(removed, attribute)
        for attribute in ("email", "phone", "phone_key", "company", "owner_id")
        if getattr(kept, attribute) is None
    }
    tags, custom_fields = set(removed.tags or ()), dict(removed.custom_fields or {})
    removed_external_id, removed_id = removed.external_id, removed.id
    _carry_posted_messages(session, from_customer_id=removed_id, to_customer_id=kept.id)
    # Deleted before its contact details move, since e-mail and phone keys are unique among customers.
    session.delete(removed)
    session.flush()
    for attribute, value in taken.items():
        setattr(kept, attribute, value)
    kept.tags = sorted(set(kept.tags or ()) | tags)
    kept.custom_fields = {**custom_fields, **(kept.custom_fields or {})}
    session.flush()
    record(
        session,
        actor=actor,
        action="customer.merge",
        customer_id=kept.id,
        detail={"merged_customer_id": removed_id, **moved},
    )
    return MergeResult(
        kept=CustomerView.of(kept),
        removed_external_id=removed_external_id,
        interactions_moved=moved["interactions"],
        purchases_moved=moved["purchases"],
        follow_ups_moved=moved["follow_ups"],
    )


def _carry_posted_messages(session: Session, *, from_customer_id: int, to_customer_id: int) -> None:
    """The kept customer inherits the merged one's records of bot messages that named them (once
    each, ``crm_core.privacy.posted``), so erasing the person later finds every such message."""
    if not inspect(session.connection()).has_table(PostedMessage.__tablename__):
        # Merges also run on a store not yet upgraded to migration 0006: the clash merges migration
        # 0004 asks for before it makes contact keys unique. Nothing was recorded there to carry.
        return
    kept = select(PostedMessage.channel_id, PostedMessage.ts).where(
        PostedMessage.customer_id == to_customer_id
    )
    session.execute(
        update(PostedMessage)
        .where(
            PostedMessage.customer_id == from_customer_id,
            tuple_(PostedMessage.channel_id, PostedMessage.ts).not_in(kept),
        )
        .values(customer_id=to_customer_id)
    )
