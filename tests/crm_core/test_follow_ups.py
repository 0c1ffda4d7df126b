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
from crm_core.interactions.service import customers_touched_by
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
    assert [f.id for f in open_follow_ups(session, actor=REP, owner_id="U_REP")] == [late.id, soon.id]
    now = dt.datetime(2026, 11, 25, 10)
    complete_follow_up(session, actor=REP, follow_up_id=late.id, now=now)
    again = complete_follow_up(session, actor=REP, follow_up_id=late.id, now=now + dt.timedelta(hours=1))
    assert again.status == "done"
    assert [f.id for f in open_follow_ups(session, actor=REP, owner_id="U_REP")] == [soon.id]


def test_slack_follow_ups_belong_to_who_set_them_cli_ones_to_the_owner(session: Session) -> None:
    customer(session, "Acme", external_id="A", owner_id="U_OWNER")
    from_slack = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 12, 1))
    from_cli = add_follow_up(session, actor=TEST_ACTOR, customer_external_id="A", due_on=dt.date(2026, 12, 1))
    assert (from_slack.owner_id, from_cli.owner_id) == ("U_REP", "U_OWNER")


@pytest.mark.parametrize(
    ("today", "moved_to"),
    [
        (dt.date(2026, 11, 18), dt.date(2026, 11, 27)),  # due in two days: a week from the due date
        (dt.date(2026, 11, 20), dt.date(2026, 11, 27)),  # due today
        (dt.date(2026, 11, 25), dt.date(2026, 12, 2)),  # overdue: a week from today
    ],
)
def test_a_snooze_moves_a_future_follow_up_from_its_due_date_and_an_overdue_one_from_today(
    session: Session, today: dt.date, moved_to: dt.date
) -> None:
    customer(session, "Acme", external_id="A")
    f = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 20))
    snoozed = snooze_follow_up(session, actor=REP, follow_up_id=f.id, days=7, today=today)
    assert (snoozed.status, snoozed.due_on) == ("snoozed", moved_to)


def test_reading_one_follow_up_takes_the_actor_checks_access_and_is_audited(session: Session) -> None:
    acme = customer(session, "Acme", external_id="A")
    f = add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 20))
    assert get_follow_up(session, actor=REP, follow_up_id=f.id).customer_name == "Acme"
    reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.read")).all()
    assert [(r.actor, r.customer_id) for r in reads] == [("U_REP", acme.id)]
    nobody = Actor(user_id="U_GONE", surface="slack", role=None)  # a Slack actor without a role
    with pytest.raises(Forbidden):
        get_follow_up(session, actor=nobody, follow_up_id=f.id)


def test_the_lists_on_mine_and_the_home_tab_are_reads_the_services_check(session: Session) -> None:
    customer(session, "Acme", external_id="A")
    add_follow_up(session, actor=REP, customer_external_id="A", due_on=dt.date(2026, 11, 20))
    nobody = Actor(user_id="U_REP", surface="slack", role=None)  # the owner, but without a role
    with pytest.raises(Forbidden):
        open_follow_ups(session, actor=nobody, owner_id="U_REP")
    with pytest.raises(Forbidden):
        customers_touched_by(session, actor=nobody, author="U_REP")
    assert len(open_follow_ups(session, actor=REP, owner_id="U_REP")) == 1
