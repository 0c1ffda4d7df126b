"""Small factories that go through the real services, so tests build data the way users do."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.customers.service import create_customer

TEST_ACTOR = Actor(user_id="U_TEST", surface="cli")


def customer(session: Session, name: str = "Acme Inc.", **fields: Any) -> CustomerView:
    return create_customer(session, actor=TEST_ACTOR, name=name, **fields).customer
