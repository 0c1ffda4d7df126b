"""An error after the action was committed says it was saved; one before says nothing was.

Slack refusing a confirmation comes after the unit of work committed: a person told "nothing was
saved. Please try again." would store the interaction twice. Driven over HTTP against the fake
Slack, on the modal path (``before_ack``) and the kept-request path (``answered_later``).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.console.workflow_events import function_executed
from bot.ids import ActionId, Field
from bot.messages import t
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import Interaction
from crm_core.store import transaction
from tests.bot.conftest import JA, NOW, SALES
from tests.bot.harness import SlackSender, button, opened_view
from tests.factories import customer

BOT = FakeSlack.BOT_USER_ID
CHANNEL = "C0SUPPORT"
THREAD = "1772586000.000100"
SETTLED = 30.0
SAVED = {
    "en": ":warning: Your action was saved, but something went wrong on our side and its confirmation "
    "could not be shown. Before you try again, check the customer's timeline with `/crm &lt;customer&gt;`",
    "ja": ":warning: 保存は完了しましたが、こちらで問題が起きたため確認メッセージを表示できませんでした。",
}


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.")


def mention(ts: str) -> dict[str, Any]:
    event = {"type": "app_mention", "user": SALES, "text": f"<@{BOT}> log Acme", "ts": ts, "event_ts": ts}
    return {**event, "channel": CHANNEL, "thread_ts": THREAD}


def summaries(engine: Engine) -> list[str]:
    """What was logged: one summary per interaction stored."""
    with transaction(engine) as session:
        return list(session.scalars(select(Interaction.summary).order_by(Interaction.id)))


@pytest.mark.parametrize(("user", "language"), [(SALES, "en"), (JA, "ja")])
def test_a_logged_interaction_whose_confirmation_slack_refuses_is_told_as_saved(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, user: str, language: str
) -> None:
    sent = sender.command("find acme", user=user)
    [reply] = slack.wait_for_reply(sent.response_id)
    sender.click(button(reply, ActionId.LOG_INTERACTION), user=user)
    view = opened_view(slack)
    slack.fail_next("chat.postEphemeral", error="invalid_blocks")
    values = {
        Field.CUSTOMER: acme.external_id,
        Field.KIND: "call",
        Field.SUMMARY: "Called about the renewal.",
        Field.OCCURRED_ON: NOW.date().isoformat(),
    }
    answer = sender.submit(view, values, user=user)
    assert (answer.status, answer.body) == (200, "")
    refused, told = slack.wait_for("chat.postEphemeral", count=2)
    assert refused.text.startswith(":white_check_mark:")  # the confirmation Slack refused
    assert told.params["user"] == user
    assert told.text.startswith(SAVED[language])
    assert told.text == t(language, "error.saved_unconfirmed")
    assert summaries(engine) == ["Called about the renewal."]


def test_a_logged_thread_whose_confirmation_slack_refuses_is_told_as_saved(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(
        CHANNEL,
        THREAD,
        [
            {"user": "U0BUYER", "text": "Our order is late."},
            {"user": SALES, "ts": "1772586120.000300", "text": f"<@{BOT}> log Acme"},
        ],
    )
    slack.fail_next("chat.postMessage", error="invalid_blocks")  # the confirmation in the thread
    assert sender.event(mention("1772586120.000300"), event_id="Ev1").status == 200
    assert listeners.settle(SETTLED)
    assert summaries(engine) == ["@U0BUYER: Our order is late."]
    [told] = slack.delivered("chat.postEphemeral")
    assert told.params["user"] == SALES and told.text.startswith(SAVED["en"])


def test_a_failure_before_anything_is_saved_still_says_nothing_was_saved(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    # The writer reads the thread before its unit opens: Slack failing there fails the action.
    slack.fail_next("conversations.replies", error="internal_error")
    assert sender.event(mention("1772586120.000300"), event_id="Ev2").status == 200
    assert listeners.settle(SETTLED)
    assert summaries(engine) == []
    [told] = slack.delivered("chat.postEphemeral")
    assert told.params["user"] == SALES
    assert told.text == t("en", "error.unexpected") and "nothing was saved" in told.text


def test_a_workflow_step_that_logged_but_could_not_complete_says_it_was_saved(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    inputs = {"customer": "Acme", "kind": "call", "summary": "Asked for a quote", "author": SALES}
    event = function_executed("log_interaction", inputs, execution_id="Fx1", token=slack.run_function("Fx1"))
    slack.fail_next("functions.completeSuccess", error="invalid_arguments")  # after the commit
    assert sender.event(event, event_id="EvFx1").status == 200
    assert listeners.settle(SETTLED)
    assert summaries(engine) == ["Asked for a quote"]
    assert slack.step_state("Fx1") == "failed"
    error = str((slack.step_ended_with("Fx1") or {})["error"])
    assert error == t("en", "step.saved_unconfirmed") and "before running the workflow again" in error
