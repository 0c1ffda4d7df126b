"""Importing purchases (orders): idempotent by the order's external id.

An order already in the store is left as it is and counted unchanged: orders are history, and a
re-sent export must never double revenue. A row without an order id gets a key derived from its
content (customer's external id, time, amount, currency): re-importing the same file finds the
same keys, and two such rows identical in all four are taken as one order listed twice, so the
second is rejected (give the file an external_id column to keep both).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_core.io.entity import Batch, EntityImport, WriteCounts
from crm_core.io.fields import optional_column, parse_amounts, parse_currencies
from crm_core.io.timeline import Timeline
from crm_core.models import Purchase

DERIVED_KEY_PREFIX = "row:"


def load_purchases(session: Session, batch: Batch) -> WriteCounts:
    rows, problems = batch.rows, batch.problems
    timeline = Timeline.parse(session, batch)
    currencies = parse_currencies(optional_column(rows, "currency"), problems)
    amounts = parse_amounts(rows["amount"], currencies, problems)
    orders = optional_column(rows, "external_id")
    derived = problems.valid() & orders.eq("")
    amount_texts = [f"{amount:.2f}" for amount in amounts[derived]]
    keys = orders.mask(
        derived, timeline.keys(DERIVED_KEY_PREFIX, derived, amount_texts, currencies[derived].tolist())
    )
    return timeline.write(
        session,
        Purchase,
        key="external_id",
        keys=keys,
        values={"amount": amounts, "currency": currencies},
        repeated=lambda key, line: f"order {key!r} is already on line {line}",
        problems=problems,
        progress=batch.progress,
    )


PURCHASES = EntityImport(
    name="purchases",
    columns=("customer", "occurred_at", "amount", "currency", "external_id"),
    required=("customer", "occurred_at", "amount"),
    max_lengths={"external_id": 64},
    load=load_purchases,
)
