"""Plain, frozen views of customers handed out of a transaction, safe to render after it closed."""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.customer_view import CustomerView


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
