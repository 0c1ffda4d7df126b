"""Follow-up rules fire once per event, only for events after the rule was made."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.errors import InvalidInput
from crm_core.follow_ups.service import open_follow_ups
from crm_core.interactions.service import log_interaction
from crm_core.models import FollowUpRule, Interaction, Purchase
from crm_core.rules.service import add_rule, apply_follow_up_rules, remove_rule
from crm_core.store import make_engine, transaction
from tests.factories import TEST_ACTOR, customer

SUPPORT = Actor(user_id="U_SUPPORT", surface="slack", role="support")


def _backdate_rules(session: Session, to: dt.datetime) -> None:
    for rule in session.scalars(select(FollowUpRule)):
        rule.created_at = to
    session.flush()


def test_support_interaction_schedules_a_follow_up_for_its_author(session: Session) -> None:
    customer(session, "Acme", external_id="A", owner_id="U_OWNER")
    add_rule(session, actor=TEST_ACTOR, trigger="interaction:support", delay_days=7, note="How is it going?")
    _backdate_rules(session, dt.datetime(2026, 1, 1))
    log_interaction(
        session,
        actor=SUPPORT,
        customer_external_id="A",
        kind="support",
        summary="printer jam",
        occurred_at=dt.datetime(2026, 11, 25, 10),
    )
    log_interaction(
        session,
        actor=SUPPORT,
        customer_external_id="A",
        kind="call",
        summary="unrelated",
        occurred_at=dt.datetime(2026, 11, 25, 11),
    )
    [follow_up] = open_follow_ups(session, actor=TEST_ACTOR)
    assert (follow_up.due_on, follow_up.owner_id, follow_up.note) == (
        dt.date(2026, 12, 2),
        "U_SUPPORT",
        "How is it going?",
    )
    assert apply_follow_up_rules(session, actor=TEST_ACTOR) == 0


def test_first_purchase_rule_fires_only_for_the_first_and_only_after_the_rule_exists(
    session: Session,
) -> None:
    newbie = customer(session, "New Buyer", external_id="N", owner_id="U_OWNER")
    regular = customer(session, "Regular", external_id="R", owner_id="U_OWNER")
    add_rule(session, actor=TEST_ACTOR, trigger="first_purchase", delay_days=3, note="Thank you!")
    _backdate_rules(session, dt.datetime(2026, 6, 1))
    session.add_all(
        [
            Purchase(customer_id=regular.id, occurred_at=dt.datetime(2026, 1, 5), amount=10, currency="JPY"),
            Purchase(
                customer_id=regular.id, occurred_at=dt.datetime(2026, 11, 20), amount=10, currency="JPY"
            ),
            Purchase(customer_id=newbie.id, occurred_at=dt.datetime(2026, 11, 20), amount=10, currency="JPY"),
            Purchase(customer_id=newbie.id, occurred_at=dt.datetime(2026, 11, 22), amount=10, currency="JPY"),
        ]
    )
    session.flush()
    assert apply_follow_up_rules(session, actor=TEST_ACTOR) == 1
    assert apply_follow_up_rules(session, actor=TEST_ACTOR) == 0
    [follow_up] = open_follow_ups(session, actor=TEST_ACTOR)
    assert (follow_up.customer_id, follow_up.due_on, follow_up.owner_id) == (
        newbie.id,
        dt.date(2026, 11, 23),
        "U_OWNER",
    )


@pytest.mark.parametrize(("trigger", "delay"), [("birthday", 3), ("interaction:dance", 3), ("purchase", -1)])
def test_bad_rules_are_refused(session: Session, trigger: str, delay: int) -> None:
    with pytest.raises(InvalidInput):
        add_rule(session, actor=TEST_ACTOR, trigger=trigger, delay_days=delay, note="")


def _log_call(session: Session, summary: str, when: dt.datetime) -> None:
    log_interaction(
        session, actor=SUPPORT, customer_external_id="A", kind="support", summary=summary, occurred_at=when
    )


def _follow_up_notes(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        return [f.note for f in open_follow_ups(session, actor=TEST_ACTOR)]


def test_a_rule_added_or_removed_by_another_replica_applies_to_the_next_log(
    engine: Engine, database_url: str
) -> None:
    """Rules are read from the store for every log, so no process keeps applying an outdated set."""
    other = make_engine(database_url)
    try:
        with transaction(engine) as session:
            customer(session, "Acme", external_id="A", owner_id="U_OWNER")
            _log_call(
                session, "before any rule", dt.datetime(2026, 11, 20)
            )  # this process has read the rules
        with transaction(other) as session:
            rule = add_rule(
                session, actor=TEST_ACTOR, trigger="interaction:support", delay_days=7, note="Again?"
            )
            _backdate_rules(session, dt.datetime(2026, 11, 22))  # after the first log
        with transaction(engine) as session:
            _log_call(session, "after the rule", dt.datetime(2026, 11, 25))
        assert _follow_up_notes(engine) == ["Again?"]
        with transaction(other) as session:
            remove_rule(session, actor=TEST_ACTOR, rule_id=rule.id)
        with transaction(engine) as session:
            _log_call(session, "after its removal", dt.datetime(2026, 11, 26))
        assert _follow_up_notes(engine) == ["Again?"]
    finally:
        other.dispose()


def test_a_rule_removed_earlier_in_the_same_transaction_does_not_apply(session: Session) -> None:
    acme = customer(session, "Acme", external_id="A", owner_id="U_OWNER")
    rule = add_rule(session, actor=TEST_ACTOR, trigger="interaction:support", delay_days=7, note="Again?")
    _backdate_rules(session, dt.datetime(2026, 1, 1))
    session.add(
        Interaction(customer_id=acme.id, kind="support", summary="jam", occurred_at=dt.datetime(2026, 11, 26))
    )
    session.flush()
    remove_rule(session, actor=TEST_ACTOR, rule_id=rule.id)  # pending until the next flush
    assert apply_follow_up_rules(session, actor=TEST_ACTOR) == 0
    assert open_follow_ups(session, actor=TEST_ACTOR) == []
