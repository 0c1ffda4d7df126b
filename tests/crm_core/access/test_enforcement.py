"""The services enforce the policy, so Slack, the console and the CLI share it; refusals are audited."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.customers.service import merge_customers
from crm_core.errors import Forbidden
from crm_core.follow_ups.service import add_follow_up, complete_follow_up
from crm_core.identity.mentions import customer_named_in, customers_named_in
from crm_core.identity.search import find_customers, resolve_customer
from crm_core.interactions.service import log_interaction
from crm_core.io.export import export_csv
from crm_core.io.importer import import_table
from crm_core.io.source import frame_table
from crm_core.models import AuditEvent, Customer, Purchase
from crm_core.privacy.service import erase_customer, export_customer_data
from crm_core.read_models.audit_trail import audit_events
from crm_core.read_models.profile import load_profile
from crm_core.store import transaction
from crm_core.team.service import add_member, remove_member
from tests.factories import customer

SUPPORT = Actor("U0SUP", "slack", "support")
SALES = Actor("U0REP", "slack", "sales")
NOW = dt.datetime(2026, 11, 20, 10, 0)


def with_purchase(session: Session) -> str:
    acme = customer(session, "Acme Inc.", email="buyer@acme.example")
    session.add(Purchase(customer_id=acme.id, occurred_at=NOW, amount=Decimal("1200"), currency="JPY"))
    session.flush()
    return acme.external_id


def test_support_sees_contact_details_and_timeline_but_no_revenue(session: Session) -> None:
    acme = with_purchase(session)
    log_interaction(
        session,
        actor=SUPPORT,
        customer_external_id=acme,
        kind="support",
        summary="Printer jam",
        occurred_at=NOW,
    )
    profile = load_profile(session, actor=SUPPORT, external_id=acme)
    assert profile.purchases is None
    assert profile.customer.email == "buyer@acme.example"
    assert [i.summary for i in profile.recent_interactions] == ["Printer jam"]
    sales_view = load_profile(session, actor=SALES, external_id=acme)
    assert sales_view.purchases is not None and sales_view.purchases.totals == (("JPY", Decimal("1200")),)


def test_everyone_in_the_team_logs_and_keeps_follow_ups(session: Session) -> None:
    acme = customer(session).external_id
    follow_up = add_follow_up(session, actor=SUPPORT, customer_external_id=acme, due_on=NOW.date())
    assert complete_follow_up(session, actor=SALES, follow_up_id=follow_up.id, now=NOW).status == "done"


@pytest.mark.parametrize("actor", [SUPPORT, SALES, Actor("U0MGR", "slack", "manager")])
def test_admin_only_work_is_refused_to_everyone_else(session: Session, actor: Actor) -> None:
    keep, other = customer(session, "Acme").external_id, customer(session, "Globex").external_id
    refused = [
        lambda: merge_customers(session, actor=actor, keep=keep, other=other),
        lambda: export_csv(session, entity="customers", out=io.StringIO(), actor=actor),
        lambda: import_table(
            session,
            entity="customers",
            table=frame_table("t", pd.DataFrame({"name": ["Initech"]})),
            actor=actor,
            now=NOW.replace(tzinfo=dt.UTC),
        ),
        lambda: add_member(session, actor=actor, user_id="U0NEW", role="admin"),
        lambda: remove_member(session, actor=actor, user_id="U0NEW"),
        lambda: audit_events(session, actor=actor),
        lambda: export_customer_data(session, actor=actor, query=keep),
        lambda: erase_customer(session, actor=actor, query=keep),
    ]
    for attempt in refused:
        with pytest.raises(Forbidden) as refusal:
            attempt()
        assert refusal.value.key == "access.admin_only"


def test_a_refused_attempt_is_audited_although_its_transaction_rolls_back(engine: Engine) -> None:
    with transaction(engine) as session:
        keep, other = customer(session, "Acme").external_id, customer(session, "Globex").external_id
    with pytest.raises(Forbidden), transaction(engine) as session:
        session.add(Customer(external_id="ghost", name="Ghost", name_key="ghost"))  # rolled back with it
        merge_customers(session, actor=SUPPORT, keep=keep, other=other)
    with transaction(engine) as session:
        refusal = session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False))).one()
        kept = session.scalars(select(Customer.id).where(Customer.external_id == keep)).one()
        assert session.scalars(select(Customer).where(Customer.external_id == "ghost")).first() is None
    assert (refusal.actor, refusal.surface, refusal.action, refusal.customer_id) == (
        "U0SUP",
        "slack",
        "customer.merge",
        kept,
    )


def test_reads_of_a_customer_are_audited_with_ids_only(session: Session) -> None:
    acme = customer(session, "Acme Inc.", email="buyer@acme.example")
    load_profile(session, actor=SUPPORT, external_id=acme.external_id)
    read = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.read")).one()
    assert (read.actor, read.surface, read.customer_id, read.allowed) == ("U0SUP", "slack", acme.id, True)
    for event in session.scalars(select(AuditEvent)):
        assert "Acme" not in str(event.detail) and "buyer" not in str(event.detail)


def test_search_and_the_customers_a_text_names_are_reads_that_take_the_actor(session: Session) -> None:
    customer(session, "Acme Inc.", email="buyer@acme.example")
    nobody = Actor("U0GONE", "slack", None)  # a Slack actor whose role was never resolved
    reads = [
        lambda actor: resolve_customer(session, actor=actor, query="Acme"),
        lambda actor: find_customers(session, actor=actor, query="Acme"),
        lambda actor: customers_named_in(session, actor=actor, text="Acme called"),
        lambda actor: customer_named_in(session, actor=actor, text="mail from buyer@acme.example"),
    ]
    for read in reads:
        with pytest.raises(Forbidden):
            read(nobody)
        assert read(SUPPORT)
