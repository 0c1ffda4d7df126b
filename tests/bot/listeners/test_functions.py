"""Workflow Builder steps end to end: signed ``function_executed`` events in, ``functions.complete*`` out.

Each step runs as the person its inputs name, with their role; guests and other organisations are
refused; whatever a person would be asked or told instead ends the step with ``completeError``. A
delivery Slack repeats (same event id, or a replica running the step again under another) has one
effect, kept by the function execution id in the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import create_app
from bot.console.fake_web_api import FakeSlack
from bot.console.workflow_events import function_executed
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings
from crm_core.customer_view import CustomerView
from crm_core.models import AuditEvent, FollowUp, Interaction
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES, SIGNING_SECRET, Clock, serving
from tests.bot.harness import SlackSender
from tests.factories import customer

SETTLED = 30.0
GUEST, OUTSIDER = "U0GUEST", "U0PARTNER"
_executions = itertools.count(1)


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.", email="buyer@acme.example", owner_id=JA)


def run_step(
    sender: SlackSender,
    slack: FakeSlack,
    callback_id: str,
    inputs: Mapping[str, str],
    *,
    event_id: str | None = None,
    retry_num: int | None = None,
    execution_id: str | None = None,
) -> str:
    """Slack runs the step: a fresh execution (unless given), its event delivered signed."""
    fx = execution_id or f"Fx{next(_executions)}"
    token = slack.run_function(fx) if execution_id is None else f"xwfp-{fx}"
    event = function_executed(callback_id, inputs, execution_id=fx, token=token)
    answer = sender.event(event, event_id=event_id or f"Ev{fx}", retry_num=retry_num)
    assert answer.status == 200
    return fx


def outputs(slack: FakeSlack, fx: str) -> dict[str, Any]:
    assert slack.step_state(fx) == "completed", slack.step_ended_with(fx)
    return dict((slack.step_ended_with(fx) or {})["outputs"])


def error_of(slack: FakeSlack, fx: str) -> str:
    assert slack.step_state(fx) == "failed", slack.step_ended_with(fx)
    return str((slack.step_ended_with(fx) or {})["error"])


def test_find_customer_gives_the_outputs_the_manifest_declares(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, acme: CustomerView
) -> None:
    fx = run_step(sender, slack, "find_customer", {"query": "buyer@acme.example", "asked_by": SALES})
    assert listeners.settle(SETTLED)
    found = outputs(slack, fx)
    assert {k: found[k] for k in ("customer_id", "customer_name", "owner")} == {
        "customer_id": acme.external_id,
        "customer_name": "Acme Inc.",
        "owner": JA,
    }
    assert set(found) == {"customer_id", "customer_name", "owner", "segment", "churn_risk", "summary"}
    assert found["summary"].startswith(f"Acme Inc. ({acme.external_id}) · segment: ")
    assert "\n" not in found["summary"] and "*" not in found["summary"]
    assert slack.step_state(fx) == "completed"


def test_find_customer_naming_nobody_reads_as_the_workflow_and_leaves_out_an_absent_owner(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    with transaction(engine) as session:
        initech = customer(session, "Initech")
    fx = run_step(sender, slack, "find_customer", {"query": "initech"})
    assert listeners.settle(SETTLED)
    found = outputs(slack, fx)
    assert (found["customer_id"], "owner" in found) == (initech.external_id, False)
    with transaction(engine) as session:
        audited = select(AuditEvent.actor).where(AuditEvent.customer_id == initech.id)
        readers = set(session.scalars(audited.where(AuditEvent.action == "customer.read")))
    assert readers == {"workflow"}


def test_several_or_no_customers_fail_the_step_in_words_a_workflow_author_can_act_on(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Holdings")
    several = run_step(sender, slack, "find_customer", {"query": "acm", "asked_by": SALES})
    nobody = run_step(
        sender,
        slack,
        "log_interaction",
        {"customer": "Globex", "kind": "call", "summary": "x", "author": SALES},
    )
    assert listeners.settle(SETTLED)
    assert error_of(slack, several) == "Several customers match 'acm': use the external id or e-mail."
    assert error_of(slack, nobody).startswith("No customer matches 'Globex'")
    assert slack.delivered("chat.postEphemeral") == slack.delivered("chat.postMessage") == []


def test_log_interaction_logs_as_the_author_once_however_often_it_is_delivered(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    inputs = {"customer": "Acme", "kind": "call", "summary": "Asked for a quote", "author": JA}
    fx = run_step(sender, slack, "log_interaction", inputs)
    for retry in (1, 2):
        run_step(
            sender, slack, "log_interaction", inputs, event_id=f"Ev{fx}", retry_num=retry, execution_id=fx
        )
    # Another replica runs the same execution under another delivery: stored once, completed once.
    run_step(sender, slack, "log_interaction", inputs, event_id=f"Ev{fx}-again", execution_id=fx)
    assert listeners.settle(SETTLED)
    with transaction(engine) as session:
        logged = [(i.customer_id, i.kind, i.summary, i.author) for i in session.scalars(select(Interaction))]
        audited = list(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "interaction.log"))
        )
    assert logged == [(acme.id, "call", "Asked for a quote", JA)]
    assert audited == [JA]
    assert outputs(slack, fx) == {"customer_id": acme.external_id, "customer_name": "Acme Inc."}
    # Retries of the event were ignored; the second run's completion came after the first had ended it.
    assert len(slack.calls_to("functions.completeSuccess", function_execution_id=fx)) == 2


def test_add_follow_up_reads_the_due_date_in_the_owners_time_zone(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    # 09:00 UTC on Wednesday 4 March is 18:00 in Tokyo: "tomorrow" is the 5th for both, "3日後" the 7th.
    spoken = run_step(
        sender, slack, "add_follow_up", {"customer": "Acme", "due": "3日後", "note": "見積", "owner": JA}
    )
    picked = run_step(
        sender, slack, "add_follow_up", {"customer": acme.external_id, "due": "2026-04-01", "owner": SALES}
    )
    assert listeners.settle(SETTLED)
    assert outputs(slack, spoken) == {"customer_id": acme.external_id, "due_date": "2026-03-07"}
    assert outputs(slack, picked) == {"customer_id": acme.external_id, "due_date": "2026-04-01"}
    with transaction(engine) as session:
        rows = sorted(
            (f.owner_id or "", f.due_on.isoformat(), f.note) for f in session.scalars(select(FollowUp))
        )
    assert rows == [(JA, "2026-03-07", "見積"), (SALES, "2026-04-01", "")]


def test_a_past_or_unreadable_due_date_or_a_missing_input_fails_the_step_and_saves_nothing(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    past = run_step(sender, slack, "add_follow_up", {"customer": "Acme", "due": "2026-01-01", "owner": SALES})
    unread = run_step(sender, slack, "add_follow_up", {"customer": "Acme", "due": "someday", "owner": SALES})
    no_author = run_step(
        sender, slack, "log_interaction", {"customer": "Acme", "kind": "call", "summary": "x"}
    )
    assert listeners.settle(SETTLED)
    assert "2026-01-01, which has passed" in error_of(slack, past)
    assert "I could not read a date in “someday”" in error_of(slack, unread)
    assert error_of(slack, no_author) == (
        "The input 'author' is empty: fill it in this step's settings in Workflow Builder."
    )
    with transaction(engine) as session:
        assert list(session.scalars(select(FollowUp))) == []
        assert list(session.scalars(select(Interaction))) == []


@pytest.mark.parametrize("person", [GUEST, OUTSIDER])
def test_a_guest_or_someone_of_another_organisation_named_as_author_is_refused_and_audited(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    person: str,
) -> None:
    slack.add_user(GUEST, is_restricted=True)
    slack.add_user(OUTSIDER, team_id="T0PARTNER")
    inputs = {"customer": "Acme", "kind": "call", "summary": "x", "author": person}
    fx = run_step(sender, slack, "log_interaction", inputs)
    assert listeners.settle(SETTLED)
    assert error_of(slack, fx) == (
        "Sorry, crm-bot does not show customer data to guests or to people from other organisations."
    )
    with transaction(engine) as session:
        assert list(session.scalars(select(Interaction))) == []
        refusals = list(session.scalars(select(AuditEvent).where(AuditEvent.actor == person)))
    assert [(r.action, r.allowed) for r in refusals] == [("access", False)]


def test_a_person_outside_the_team_is_refused_when_the_default_role_is_none(
    settings: Settings, engine: Engine, clock: Clock, slack: FakeSlack, acme: CustomerView
) -> None:
    pool = ListenerPool(max_workers=8)
    app = create_app(replace(settings, default_role="none"), engine, clock=clock, listener_executor=pool)
    with serving(app, slack) as served:
        sender = SlackSender(served.url, SIGNING_SECRET, slack)
        fx = run_step(sender, slack, "find_customer", {"query": "Acme", "asked_by": SALES})
        assert pool.settle(SETTLED)
    assert error_of(slack, fx).startswith("Sorry, you are not in the crm-bot team yet")


@pytest.mark.parametrize("method", ["users.info", "functions.completeSuccess"])
@pytest.mark.parametrize("status", [429, 503])
def test_slack_busy_or_failing_once_on_a_call_still_completes_the_step(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    method: str,
    status: int,
) -> None:
    slack.fail_next(method, status=status, retry_after=0 if status == 429 else None)
    fx = run_step(
        sender,
        slack,
        "log_interaction",
        {"customer": "Acme", "kind": "call", "summary": "x", "author": SALES},
    )
    assert listeners.settle(SETTLED)
    assert slack.faults_left(method) == 0
    assert outputs(slack, fx)["customer_id"] == acme.external_id
    with transaction(engine) as session:
        assert len(list(session.scalars(select(Interaction)))) == 1
