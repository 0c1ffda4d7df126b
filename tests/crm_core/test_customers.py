"""Customer creation rules (one record per real person) and merging without losing anything."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.customers.service import create_customer, merge_customers
from crm_core.errors import DuplicateCustomer, InvalidInput, NotFound
from crm_core.follow_ups.service import add_follow_up, open_follow_ups
from crm_core.interactions.service import log_interaction, recent_interactions
from crm_core.models import AuditEvent, Customer, Purchase
from tests.factories import TEST_ACTOR, customer


def test_same_email_or_phone_is_never_a_second_customer(session: Session) -> None:
    first = customer(session, "Taro Yamada", email="taro@example.jp", phone="03-1234-5678")
    with pytest.raises(DuplicateCustomer) as by_email:
        customer(session, "T. Yamada", email=" TARO@example.jp")
    assert by_email.value.existing_external_id == first.external_id
    with pytest.raises(DuplicateCustomer):
        customer(session, "Someone Else", phone="０３ 1234 5678")
    assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_near_identical_name_is_created_but_reported(session: Session) -> None:
    first = customer(session, "株式会社アクメ")
    created = create_customer(session, actor=TEST_ACTOR, name="アクメ")
    assert [d.id for d in created.likely_duplicates] == [first.id]
    unrelated = create_customer(session, actor=TEST_ACTOR, name="Globex")
    assert unrelated.likely_duplicates == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "name is empty"),
        ({"name": "x" * 201}, "longer than 200"),
        ({"name": "A", "email": "not-an-email"}, "not a valid address"),
        ({"name": "A", "phone": "12"}, "at least 6 digits"),
        ({"name": "A", "lifecycle_stage": "vip"}, "lifecycle stage"),
    ],
)
def test_invalid_input_is_refused_with_a_reason(
    session: Session, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_customer(session, actor=TEST_ACTOR, **fields)


def test_external_ids_are_unique(session: Session) -> None:
    customer(session, "A", external_id="C-1")
    with pytest.raises(InvalidInput, match="already used"):
        customer(session, "B", external_id="C-1")


def test_unicode_and_sql_looking_text_are_stored_literally(session: Session) -> None:
    name = "Robert'); DROP TABLE customers;-- 🍣 <!channel> ＡＢＣ"
    created = customer(session, name)
    assert session.get_one(Customer, created.id).name == name


def test_merge_moves_everything_and_fills_gaps(session: Session) -> None:
    keep = customer(session, "Acme", external_id="KEEP", tags=["vip"])
    other = customer(session, "ACME Inc.", external_id="OTHER", email="info@acme.test", tags=["b2b"])
    log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id="OTHER",
        kind="call",
        summary="hello",
        occurred_at=dt.datetime(2026, 11, 1, 10),
    )
    add_follow_up(session, actor=TEST_ACTOR, customer_external_id="OTHER", due_on=dt.date(2026, 12, 1))
    session.add(
        Purchase(customer_id=other.id, occurred_at=dt.datetime(2026, 10, 1), amount=100, currency="JPY")
    )
    session.flush()

    result = merge_customers(session, actor=TEST_ACTOR, keep="KEEP", other="OTHER")

    assert (result.interactions_moved, result.purchases_moved, result.follow_ups_moved) == (1, 1, 1)
    assert result.kept.email == "info@acme.test"
    assert set(result.kept.tags) == {"vip", "b2b"}
    assert [i.summary for i in recent_interactions(session, customer_id=keep.id)] == ["hello"]
    assert len(open_follow_ups(session, actor=TEST_ACTOR, customer_id=keep.id)) == 1
    assert session.get(Customer, other.id) is None
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "customer.merge")) is not None


def test_merge_refuses_unknown_or_identical_ids(session: Session) -> None:
    customer(session, "Acme", external_id="KEEP")
    with pytest.raises(NotFound):
        merge_customers(session, actor=TEST_ACTOR, keep="KEEP", other="NOPE")
    with pytest.raises(InvalidInput):
        merge_customers(session, actor=TEST_ACTOR, keep="KEEP", other="KEEP")
