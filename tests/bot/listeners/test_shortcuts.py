"""The "Log to CRM" message shortcut end to end: a modal prefilled from the thread, one interaction."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.blocks.modals import MAX_INPUT
from bot.console.fake_web_api import FakeSlack
from bot.ids import CallbackId, Field
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import Interaction
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender, opened_view
from tests.factories import customer

CHANNEL = "C0SUPPORT"
THREAD = "1772496000.000100"  # 2026-03-03 00:00 UTC, 09:00 in Tokyo
REPLY = {"ts": "1772496060.000200", "thread_ts": THREAD, "user": SALES, "text": "Sorry, checking now."}
PERMALINK = f"https://fake-workspace.slack.com/archives/{CHANNEL}/p1772496000000100"
THREAD_TEXT = "@U0BUYER: Hi, Bob from *ACME, Inc.* here: order <https://shop.example/o/42|#42> is late\n" + (
    "@U0SALES: Sorry, checking now."
)


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        customer(session, "Globex Corporation")
        return customer(session, "Acme Inc.")


@pytest.fixture
def thread(slack: FakeSlack) -> None:
    slack.add_thread(
        CHANNEL,
        THREAD,
        [
            {
                "user": "U0BUYER",
                "text": "Hi, Bob from *ACME, Inc.* here: order <https://shop.example/o/42|#42> is late",
            },
            REPLY,
            {"user": FakeSlack.BOT_USER_ID, "ts": "1772496070.000300", "text": "a message of the bot's own"},
        ],
    )


def element(view: dict[str, Any], field: Field) -> dict[str, Any]:
    return next(b["element"] for b in view["blocks"] if b.get("block_id") == field)


def interactions(engine: Engine) -> list[Interaction]:
    with transaction(engine) as session:
        return list(session.scalars(select(Interaction)))


def test_the_shortcut_opens_the_thread_prefilled_and_saving_twice_keeps_one_interaction(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    thread: None,
) -> None:
    sent = sender.shortcut(CallbackId.LOG_MESSAGE, REPLY, channel=CHANNEL)
    assert (sent.answer.status, sent.answer.body) == (200, "")
    view = opened_view(slack)
    assert view["callback_id"] == CallbackId.LOG_INTERACTION
    [fetched] = slack.calls_to("conversations.replies")
    assert (fetched.params["channel"], fetched.params["ts"]) == (CHANNEL, THREAD)  # the whole thread
    assert element(view, Field.SUMMARY)["initial_value"] == THREAD_TEXT.replace(
        "<https://shop.example/o/42|#42>", "#42 (https://shop.example/o/42)"
    )
    assert element(view, Field.CUSTOMER)["initial_option"]["value"] == acme.external_id
    assert element(view, Field.KIND)["initial_option"]["value"] == "support"
    assert element(view, Field.OCCURRED_ON)["initial_date"] == "2026-03-03"
    assert json.loads(view["private_metadata"])["thread"] == {
        "channel_id": CHANNEL,
        "thread_ts": THREAD,
        "permalink": PERMALINK,
    }

    summary = element(view, Field.SUMMARY)["initial_value"]
    values = {Field.CUSTOMER: acme.external_id, Field.KIND: "support", Field.SUMMARY: summary}
    assert sender.submit(view, {**values, Field.OCCURRED_ON: "2026-03-03"}).status == 200
    [logged] = interactions(engine)
    assert (logged.kind, logged.summary, logged.permalink) == ("support", summary, PERMALINK)
    assert (logged.slack_channel_id, logged.slack_thread_ts) == (CHANNEL, THREAD)
    [confirmed] = slack.wait_for("chat.postEphemeral")
    assert (
        confirmed.params["text"]
        == ":white_check_mark: Logged this thread to *Acme Inc.*'s timeline (Support)."
    )
    assert (confirmed.params["channel"], confirmed.params["user"]) == (CHANNEL, SALES)

    # From the parent message this time, and with the summary edited: still the one interaction.
    sender.shortcut(CallbackId.LOG_MESSAGE, {"ts": THREAD, "user": "U0BUYER", "text": "Hi"}, channel=CHANNEL)
    again = opened_view(slack, count=2)
    assert sender.submit(again, {**values, Field.SUMMARY: "Late order #42, resolved"}).status == 200
    assert [(i.id, i.summary) for i in interactions(engine)] == [(logged.id, "Late order #42, resolved")]
    updated = slack.wait_for("chat.postEphemeral", count=2)[-1]
    assert updated.params["text"].startswith(":arrows_counterclockwise: Updated this thread on *Acme Inc.*")
    assert listeners.settle(30)
    assert slack.replies(sent.response_id) == []  # nothing went wrong, so nothing to explain


def test_a_thread_naming_two_customers_preselects_neither(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, THREAD, [{"user": "U0BUYER", "text": "Acme and Globex Corp. both called"}])
    sender.shortcut(CallbackId.LOG_MESSAGE, {"ts": THREAD, "text": "x"}, channel=CHANNEL)
    assert "initial_option" not in element(opened_view(slack), Field.CUSTOMER)


def test_a_long_thread_is_cut_to_what_the_input_takes(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    replies = [{"user": SALES, "ts": f"1772496{n:03d}.000000", "text": "word " * 40} for n in range(100)]
    slack.add_thread(CHANNEL, THREAD, [{"user": "U0BUYER", "text": "Acme here"}, *replies])
    sender.shortcut(CallbackId.LOG_MESSAGE, {"ts": THREAD, "text": "Acme here"}, channel=CHANNEL)
    summary = element(opened_view(slack), Field.SUMMARY)
    assert summary["max_length"] == MAX_INPUT and len(summary["initial_value"]) == MAX_INPUT
    assert summary["initial_value"].startswith("@U0BUYER: Acme here\n") and summary["initial_value"].endswith(
        "…"
    )


def test_the_modal_and_the_confirmation_are_in_japanese_for_a_japanese_user(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, thread: None
) -> None:
    sender.shortcut(CallbackId.LOG_MESSAGE, REPLY, user=JA, channel=CHANNEL)
    view = opened_view(slack)
    assert view["title"]["text"] == "やり取りを記録"
    assert element(view, Field.KIND)["initial_option"]["text"]["text"] == "サポート"
    assert element(view, Field.OCCURRED_ON)["initial_date"] == "2026-03-03"
    values = {Field.CUSTOMER: acme.external_id, Field.KIND: "support", Field.SUMMARY: "遅延の問い合わせ"}
    assert sender.submit(view, {**values, Field.OCCURRED_ON: "2026-03-03"}, user=JA).status == 200
    [confirmed] = slack.wait_for("chat.postEphemeral")
    assert (
        confirmed.params["text"]
        == ":white_check_mark: このスレッドを *Acme Inc.* の履歴に記録しました（サポート）。"
    )
    # Noon in Tokyo on the day the thread started, the date of the modal's When field.
    assert [i.occurred_at for i in interactions(engine)] == [dt.datetime(2026, 3, 3, 3, 0)]


def test_a_channel_the_bot_is_not_in_is_explained_instead_of_a_modal(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.fail_next("conversations.replies", error="not_in_channel")
    sent = sender.shortcut(CallbackId.LOG_MESSAGE, REPLY, channel=CHANNEL)
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "invite me to the channel first" in reply.params["text"]
    assert listeners.settle(30) and slack.calls_to("views.open") == []
