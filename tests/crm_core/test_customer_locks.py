"""Merge and erase against writers adding to the same customer, as two PostgreSQL transactions.

Whichever commits first, nothing saved is lost: a row added while a merge runs ends on the kept
customer, a row added while an erasure runs is erased or refused, never kept with its text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_core.customers.service import merge_customers
from crm_core.errors import InvalidInput
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import log_interaction
from crm_core.io.importer import import_table
from crm_core.io.source import frame_table
from crm_core.models import Customer, FollowUp, Interaction, Purchase
from crm_core.privacy.service import ERASED_SUMMARY, erase_customer
from crm_core.store import transaction
from tests.factories import TEST_ACTOR, customer
from tests.races import Rival, blocked, needs_postgres, race

pytestmark = needs_postgres

WHEN = dt.datetime(2026, 3, 2, 10, 0)
SUMMARY = "Agreed on the renewal"


@pytest.fixture
def twins(engine: Engine) -> tuple[str, str]:
    """Two records of one customer: the one to keep and the one merged into it."""
    with transaction(engine) as session:
        kept = customer(session, "Acme Inc.", email="buyer@acme.example").external_id
        other = customer(session, "ACME", phone="03-1234-5678").external_id
    return kept, other


def log_call(external_id: str) -> Callable[[Session], Any]:
    return lambda session: log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id=external_id,
        kind="call",
        summary=SUMMARY,
        occurred_at=WHEN,
    )


def add_reminder(external_id: str) -> Callable[[Session], Any]:
    return lambda session: add_follow_up(
        session, actor=TEST_ACTOR, customer_external_id=external_id, due_on=WHEN.date(), note=SUMMARY
    )


def import_order(external_id: str) -> Callable[[Session], Any]:
    rows = pd.DataFrame(
        {
            "customer": [external_id],
            "occurred_at": [WHEN.isoformat()],
            "amount": ["1200"],
            "external_id": ["o1"],
        }
    )
    return lambda session: import_table(
        session,
        entity="purchases",
        table=frame_table("orders", rows),
        actor=TEST_ACTOR,
        now=WHEN.replace(tzinfo=dt.UTC),
    )


def merge(kept: str, other: str) -> Callable[[Session], Any]:
    return lambda session: merge_customers(session, actor=TEST_ACTOR, keep=kept, other=other)


def erase(external_id: str) -> Callable[[Session], Any]:
    return lambda session: erase_customer(session, actor=TEST_ACTOR, query=external_id)


def owners(engine: Engine, model: type[Interaction | FollowUp | Purchase]) -> list[str]:
    """External ids of the customers holding each row of ``model``."""
    with transaction(engine) as session:
        query = select(Customer.external_id).join(model, model.customer_id == Customer.id)
        return list(session.scalars(query))


def test_an_interaction_logged_while_a_merge_waits_ends_on_the_kept_customer(
    engine: Engine, twins: tuple[str, str]
) -> None:
    kept, other = twins
    result = race(engine, log_call(other), merge(kept, other)).outcome()
    assert result.interactions_moved == 1
    assert owners(engine, Interaction) == [kept]


@pytest.mark.parametrize(
    ("write", "model"),
    [(log_call, Interaction), (add_reminder, FollowUp), (import_order, Purchase)],
    ids=["interaction", "follow-up", "purchase import"],
)
def test_a_row_added_while_a_merge_runs_follows_the_merge(
    engine: Engine,
    twins: tuple[str, str],
    write: Callable[[str], Callable[[Session], Any]],
    model: type[Interaction | FollowUp | Purchase],
) -> None:
    kept, other = twins
    race(engine, merge(kept, other), write(other)).outcome()
    assert owners(engine, model) == [kept]


def test_an_interaction_logged_while_an_erasure_waits_is_erased_too(
    engine: Engine, twins: tuple[str, str]
) -> None:
    _, other = twins
    assert race(engine, log_call(other), erase(other)).outcome().interactions == 1
    with transaction(engine) as session:
        assert list(session.scalars(select(Interaction.summary))) == [ERASED_SUMMARY]


def test_logging_to_a_customer_being_erased_is_refused(engine: Engine, twins: tuple[str, str]) -> None:
    _, other = twins
    writer = race(engine, erase(other), log_call(other))
    with pytest.raises(InvalidInput) as refused:
        writer.outcome()
    assert refused.value.key == "customer.erased"
    assert owners(engine, Interaction) == []


def test_writers_adding_to_one_customer_do_not_wait_for_each_other(
    engine: Engine, twins: tuple[str, str]
) -> None:
    """Their FOR KEY SHARE locks go together; only a merge or an erasure (FOR UPDATE) is waited for."""
    kept, _ = twins
    with transaction(engine) as session:
        log_call(kept)(session)
        rival = Rival(engine, add_reminder(kept))
        assert not blocked(rival, engine)
        rival.outcome()
        assert owners(engine, FollowUp) == [kept]
    assert owners(engine, Interaction) == [kept]
