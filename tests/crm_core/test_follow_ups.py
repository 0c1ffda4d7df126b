"""Follow-ups stay open until someone acts, overdue first; clicking Done twice changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.errors import Forbidden
from crm_core.follow_ups.service import (
    add_follow_up,
    complete_follow_up,
    get_follow_up,
    open_follow_ups,
    snooze_follow_up,
)
from crm_core.models import AuditEvent
from tests.factories import TEST_ACTOR, customer

REP = Actor(user_id="U_REP", surface="slack", role="sales")


def test_open_follow_ups_come_oldest_due_first_and_done_ones_leave(session: Session) -> None:
    customer(session, "Acme", external_id="A")
    late = add_follow_up(
        session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 1), note="late"
    )
    soon = add_follow_up(
        session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 12, 1), note="soon"
    )
    assert [f.id for f in open_follow_ups(session, owner_id="U_REP")] == [late.id, soon.id]
    now = dt.datetime(2026, 11, 25, 10)
    complete_follow_up(session, actor=REP, follow_up_id=late.id, now=now)
    again = complete_follow_up(session, actor=REP, follow_up_id=late.id, now=now + dt.timedelta(hours=1))
    assert again.status == "done"
    assert [f.id for f in open_follow_ups(session, owner_id="U_REP")] == [soon.id]


def test_slack_follow_ups_belong_to_who_set_them_cli_ones_to_the_owner(session: Session) -> None:
    customer(session, "Acme", external_id="A", owner_id="U_OWNER")
    from_slack = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 12, 1))
    from_cli = add_follow_up(session, actor=TEST_ACTOR, customer_external_id="A", due_on=dt.date(2026, 12, 1))
    assert (from_slack.owner_id, from_cli.owner_id) == ("U_REP", "U_OWNER")


def test_snooze_moves_the_due_date(session: Session) -> None:
    customer(session, "Acme", external_id="A")
    f = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 20))
    snoozed = snooze_follow_up(session, actor=REP, follow_up_id=f.id, until=dt.date(2026, 11, 27))
    assert (snoozed.status, snoozed.due_on) == ("snoozed", dt.date(2026, 11, 27))


def test_reading_one_follow_up_takes_the_actor_checks_access_and_is_audited(session: Session) -> None:
    acme = customer(session, "Acme", external_id="A")
    f = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 20))
    assert get_follow_up(session, actor=REP, follow_up_id=f.id).customer_name == "Acme"
    reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.read")).all()
    assert [(r.actor, r.customer_id) for r in reads] == [("U_REP", acme.id)]
    nobody = Actor(user_id="U_GONE", surface="slack", role=None)  # a Slack actor without a role
    with pytest.raises(Forbidden):
        get_follow_up(session, actor=nobody, follow_up_id=f.id)
