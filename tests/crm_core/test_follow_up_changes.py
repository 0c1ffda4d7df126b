"""Changes to one follow-up clicked at once (Done and Snooze) leave it in one state, said so to the later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.follow_ups.service import add_follow_up, complete_follow_up, snooze_follow_up
from crm_core.models import FollowUp
from crm_core.privacy.service import erase_customer
from crm_core.store import transaction
from tests.factories import TEST_ACTOR, customer
from tests.races import needs_postgres, race

DUE = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 15, 0)
LATER = dt.date(2026, 3, 9)


def mark_done(follow_up_id: int) -> Callable[[Session], Any]:
    def work(session: Session) -> Any:
        done = complete_follow_up(session, actor=TEST_ACTOR, follow_up_id=follow_up_id, now=NOW)
        session.flush()  # the change is written, as a handler's would be before its reply is drawn
        return done

    return work


def snooze(follow_up_id: int) -> Callable[[Session], Any]:
    return lambda session: snooze_follow_up(
        session, actor=TEST_ACTOR, follow_up_id=follow_up_id, days=7, today=NOW.date()
    )


@needs_postgres
def test_snooze_clicked_while_done_is_saved_is_refused_and_the_follow_up_stays_done(engine: Engine) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
        follow_up_id = add_follow_up(
            session, actor=TEST_ACTOR, customer_external_id=acme.external_id, due_on=DUE
        ).id
    snoozing = race(engine, mark_done(follow_up_id), snooze(follow_up_id))
    with pytest.raises(InvalidInput) as refused:
        snoozing.outcome()
    assert refused.value.key == "follow_up.already_done"
    with transaction(engine) as session:
        row = session.get_one(FollowUp, follow_up_id)
        assert (row.status, row.due_on, row.done_at) == ("done", DUE, NOW)


@needs_postgres
def test_done_clicked_while_a_snooze_is_saved_closes_the_snoozed_follow_up(engine: Engine) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
        follow_up_id = add_follow_up(
            session, actor=TEST_ACTOR, customer_external_id=acme.external_id, due_on=DUE
        ).id
    done = race(engine, snooze(follow_up_id), mark_done(follow_up_id)).outcome()
    assert done.status == "done"
    with transaction(engine) as session:
        row = session.get_one(FollowUp, follow_up_id)
        assert (row.status, row.due_on, row.done_at) == ("done", LATER, NOW)


def test_a_cancelled_follow_up_is_neither_done_nor_snoozed(session: Session) -> None:
    acme = customer(session, "Acme Inc.", email="buyer@acme.example")
    follow_up_id = add_follow_up(
        session, actor=TEST_ACTOR, customer_external_id=acme.external_id, due_on=DUE
    ).id
    erase_customer(session, actor=TEST_ACTOR, query=acme.external_id)  # cancels its open follow-ups
    for change in (mark_done(follow_up_id), snooze(follow_up_id)):
        with pytest.raises(InvalidInput) as refused:
            change(session)
        assert refused.value.key == "follow_up.closed"
    assert session.get_one(FollowUp, follow_up_id).status == "cancelled"
