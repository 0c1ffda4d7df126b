"""The timeline: one interaction per Slack thread, however often it is logged."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, NotFound
from crm_core.interactions.service import SlackThread, log_interaction
from crm_core.models import Interaction
from tests.factories import TEST_ACTOR, customer

WHEN = dt.datetime(2026, 11, 25, 9, 30)


def test_the_same_thread_logged_twice_updates_one_interaction(session: Session) -> None:
    customer(session, "Acme", external_id="A")
    thread = SlackThread("C1", "1700000000.000100", "https://example.slack.com/archives/C1/p1700000000000100")
    first, created = log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id="A",
        kind="support",
        summary="v1",
        occurred_at=WHEN,
        thread=thread,
    )
    second, created_again = log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id="A",
        kind="support",
        summary="v2",
        occurred_at=WHEN,
        thread=thread,
    )
    assert (created, created_again) == (True, False)
    assert first.id == second.id
    assert second.summary == "v2"
    assert second.permalink == thread.permalink
    assert session.scalar(select(func.count()).select_from(Interaction)) == 1


@pytest.mark.parametrize(("kind", "summary"), [("dance", "x"), ("call", "   ")])
def test_bad_kind_or_empty_summary_is_refused(session: Session, kind: str, summary: str) -> None:
    customer(session, "Acme", external_id="A")
    with pytest.raises(InvalidInput):
        log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="A", kind=kind, summary=summary, occurred_at=WHEN
        )


def test_unknown_customer_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="nope", kind="call", summary="x", occurred_at=WHEN
        )
