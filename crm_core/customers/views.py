"""Plain, frozen views of customers handed out of a transaction, safe to render after it closed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crm_core.models import Customer


@dataclass(frozen=True)
class CustomerView:
    id: int
    external_id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    owner_id: str | None
    lifecycle_stage: str
    tags: tuple[str, ...]
    custom_fields: dict[str, Any] = field(hash=False, compare=False)
    created_at: dt.datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerView:
        return cls(
            id=customer.id,
            external_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            company=customer.company,
            owner_id=customer.owner_id,
            lifecycle_stage=customer.lifecycle_stage,
            tags=tuple(customer.tags or ()),
            custom_fields=dict(customer.custom_fields or {}),
            created_at=customer.created_at,
        )


@dataclass(frozen=True)
class CreatedCustomer:
    """A new customer, with existing ones whose names are so close they may be the same person."""

    customer: CustomerView
    likely_duplicates: tuple[CustomerView, ...]


@dataclass(frozen=True)
class MergeResult:
    kept: CustomerView
    removed_external_id: str
    interactions_moved: int
    purchases_moved: int
    follow_ups_moved: int
