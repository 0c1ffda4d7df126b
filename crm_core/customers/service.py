"""Customer records: creation with duplicate checks, lookup by external id, and merging."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.customers.views import CreatedCustomer, CustomerView, MergeResult
from crm_core.errors import DuplicateCustomer, InvalidInput, NotFound
from crm_core.identity.normalize import is_valid_email, normalize_email, normalize_name, phone_digits
from crm_core.identity.search import search_customers
from crm_core.models import LIFECYCLE_STAGES, Customer, FollowUp, Interaction, Purchase

LIKELY_DUPLICATE_SCORE = 90.0
MAX_NAME_LENGTH = 200


def new_external_id() -> str:
    return f"cus_{secrets.token_hex(6)}"


def clean_contact(
    *, name: str, email: str | None, phone: str | None
) -> tuple[str, str, str | None, str | None, str | None]:
    """Validate and normalise what identifies a customer: (name, name_key, email, phone, phone_key)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name is empty", field="name", key="input.name_empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"name is longer than {MAX_NAME_LENGTH} characters",
            field="name",
            key="input.name_too_long",
            params={"max": MAX_NAME_LENGTH},
        )
    name_key = normalize_name(name) or name.casefold()
    clean_email = normalize_email(email) if email and email.strip() else None
    if clean_email is not None and not is_valid_email(clean_email):
        raise InvalidInput(
            f"e-mail {email!r} is not a valid address", field="email", key="input.email_invalid"
        )
    clean_phone = phone.strip() if phone and phone.strip() else None
    key = phone_digits(clean_phone) if clean_phone else None
    if clean_phone is not None and (not key or len(key) < 6):
        raise InvalidInput(f"phone {phone!r} needs at least 6 digits", field="phone", key="input.phone_short")
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
    name, name_key, clean_email, clean_phone, key = clean_contact(name=name, email=email, phone=phone)
    if lifecycle_stage not in LIFECYCLE_STAGES:
        raise InvalidInput(f"lifecycle stage must be one of {', '.join(LIFECYCLE_STAGES)}")
    existing = find_contact_owner(session, email=clean_email, phone_key=key)
    if existing is not None:
        raise DuplicateCustomer(
            f"{existing.name} ({existing.external_id}) already has this e-mail or phone: "
            "log to that customer instead, or merge the records",
            existing.external_id,
            existing_name=existing.name,
            field="email" if clean_email is not None and existing.email == clean_email else "phone",
        )
    external_id = (external_id or "").strip() or new_external_id()
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
        company=(company or "").strip() or None,
        owner_id=(owner_id or "").strip() or None,
        lifecycle_stage=lifecycle_stage,
        tags=sorted({t.strip() for t in tags if t.strip()}),
        custom_fields=dict(custom_fields or {}),
    )
    session.add(customer)
    session.flush()
    record(session, actor=actor, action="customer.create", customer_id=customer.id)
    return CreatedCustomer(
        customer=CustomerView.of(customer),
        likely_duplicates=tuple(m.customer for m in similar if m.matched_on == "name"),
    )


def customer_by_external_id(session: Session, external_id: str) -> Customer:
    customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).first()
    if customer is None:
        raise NotFound(
            f"No customer has the external id {external_id!r}: `crm-bot find` lists them",
            key="customer.gone",
            field="customer",
        )
    return customer


def get_customer(session: Session, *, actor: Actor, external_id: str) -> CustomerView:
    customer = customer_by_external_id(session, external_id)
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
    for attribute in ("email", "phone", "phone_key", "company", "owner_id"):
        if getattr(kept, attribute) is None:
            setattr(kept, attribute, getattr(removed, attribute))
    kept.tags = sorted(set(kept.tags or ()) | set(removed.tags or ()))
    kept.custom_fields = {**(removed.custom_fields or {}), **(kept.custom_fields or {})}
    removed_external_id, removed_id = removed.external_id, removed.id
    session.delete(removed)
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
