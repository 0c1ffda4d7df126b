"""A customer as handed out of a transaction: plain, frozen, safe to render after it closed.

It sits at the root of crm_core, beside ``actor`` and ``errors``, because the lower layers (identity's
search) return it as well as the customers service, which builds on them.
"""

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
