"""Small factories that go through the real services, so tests build data the way users do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.customers.service import create_customer
from crm_core.models import Purchase

TEST_ACTOR = Actor(user_id="U_TEST", surface="cli")


def customer(session: Session, name: str = "Acme Inc.", **fields: Any) -> CustomerView:
    return create_customer(session, actor=TEST_ACTOR, name=name, **fields).customer


def lapsing_buyer(session: Session, *, today: dt.date, name: str = "Slipping Away", **fields: Any) -> int:
    """A customer who bought every 10 days for a year and has been silent for 30 days before
    ``today`` (at risk of churning by their own rhythm); returns the customer id."""
    buyer = customer(session, name, **fields)
    for days_ago in range(30, 400, 10):
        when = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12))
        session.add(Purchase(customer_id=buyer.id, occurred_at=when, amount=1000, currency="JPY"))
    session.flush()
    return buyer.id
