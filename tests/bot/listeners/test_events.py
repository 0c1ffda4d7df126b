"""``@crm log &lt;customer&gt;`` in a thread, end to end: signed events in, the thread logged once.

Slack's retries carry the same ``event_id`` and ``X-Slack-Retry-Num``; the thread's idempotency key
in the database, not any memory of event ids, is what keeps it one interaction.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import Call, FakeSlack
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import Interaction
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender
from tests.factories import customer

BOT = FakeSlack.BOT_USER_ID
CHANNEL = "C0SUPPORT"
THREAD = "1772586000.000100"  # 2026-03-04 01:00 UTC
CUSTOMER_USER = "U0BUYER"
FIRST_MESSAGES = [
    {"user": CUSTOMER_USER, "text": "Hi, our order <https://shop.example/o/42|#42> is late &amp; unpaid?"},
    {"user": SALES, "ts": "1772586060.000200", "text": "Sorry! Checking with the warehouse."},
    {"user": SALES, "ts": "1772586120.000300", "text": f"<@{BOT}> log Acme"},
]
FIRST_TEXT = (
    "@U0BUYER: Hi, our order #42 (https://shop.example/o/42) is late & unpaid?\n"
    "@U0SALES: Sorry! Checking with the warehouse."
)
PERMALINK = f"https://fake-workspace.slack.com/archives/{CHANNEL}/p1772586000000100"
SETTLED = 30.0


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.")


def mention(text: str, *, ts: str, user: str = SALES, thread_ts: str | None = THREAD) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": CHANNEL, "event_ts": ts}
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def interactions(engine: Engine) -> list[Interaction]:
    with transaction(engine) as session:
        return list(session.scalars(select(Interaction)))


def in_thread(slack: FakeSlack, method: str) -> list[Call]:
    return [c for c in slack.delivered(method) if c.params.get("thread_ts") == THREAD]


def test_a_mention_its_retries_and_a_later_mention_make_one_interaction(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, THREAD, FIRST_MESSAGES)
    first = mention(f"<@{BOT}> log Acme", ts="1772586120.000300")
    assert sender.event(first, event_id="Ev1").status == 200
    assert listeners.settle(SETTLED)
    [logged] = interactions(engine)
    assert (logged.kind, logged.summary, logged.author) == ("support", FIRST_TEXT, SALES)
    assert (logged.permalink, logged.slack_channel_id, logged.slack_thread_ts) == (PERMALINK, CHANNEL, THREAD)
    assert logged.occurred_at == dt.datetime(2026, 3, 4, 1, 0, 0, 100)  # the parent message's ts
    [confirmed] = in_thread(slack, "chat.postMessage")
    assert confirmed.params["channel"] == CHANNEL
    assert (
        confirmed.params["text"]
        == ":white_check_mark: Logged this thread to *Acme Inc.*'s timeline (Support)."
    )

    for retry in (1, 2, 3):
        assert sender.event(first, event_id="Ev1", retry_num=retry).status == 200
    assert listeners.settle(SETTLED)
    assert [(i.id, i.summary) for i in interactions(engine)] == [(logged.id, FIRST_TEXT)]
    assert len(in_thread(slack, "chat.postMessage")) == 1  # retries that change nothing stay silent

    later = [
        *FIRST_MESSAGES,
        {"user": CUSTOMER_USER, "ts": "1772589600.000400", "text": "It arrived, thanks!"},
        {"user": BOT, "ts": "1772586121.000500", "text": "Logged this thread"},  # the bot's own: left out
        {"user": JA, "ts": "1772589700.000600", "text": f"<@{BOT}> 記録 「Acme」"},
    ]
    slack.add_thread(CHANNEL, THREAD, later)
    assert (
        sender.event(
            mention(f"<@{BOT}> 記録 「Acme」", ts="1772589700.000600", user=JA), event_id="Ev2"
        ).status
        == 200
    )
    assert listeners.settle(SETTLED)
    [updated] = interactions(engine)
    assert (updated.id, updated.summary) == (logged.id, FIRST_TEXT + "\n@U0BUYER: It arrived, thanks!")
    assert updated.author == SALES and updated.occurred_at == logged.occurred_at
    assert [c.params["text"] for c in in_thread(slack, "chat.postMessage")][1:] == [
        ":arrows_counterclockwise: *Acme Inc.* の履歴にあるこのスレッドを"
        "最新の内容に更新しました（サポート）。"
    ]


def test_deliveries_racing_each_other_still_make_one_interaction(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, THREAD, FIRST_MESSAGES)
    event = mention(f"<@{BOT}> log Acme", ts="1772586120.000300")
    # Hold every delivery at its first Web API call, then let them into the store together.
    gate = slack.hold_next("conversations.replies", times=4)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda retry: sender.event(event, event_id="Ev1", retry_num=retry), (None, 1, 2, 3))
        )
    assert [a.status for a in answers] == [200] * 4
    gate.set()
    assert listeners.settle(SETTLED)
    [logged] = interactions(engine)
    assert logged.summary == FIRST_TEXT
    said = [c.params["text"] for c in in_thread(slack, "chat.postMessage")]
    assert [text for text in said if "Logged this thread" in text] == [
        ":white_check_mark: Logged this thread to *Acme Inc.*'s timeline (Support)."
    ]
    assert slack.delivered("chat.postEphemeral") == []  # no apology: nobody's insert failed


@pytest.mark.parametrize(
    ("user", "text", "thread_ts", "hint"),
    [
        (SALES, f"<@{BOT}> log Acme", None, "Mention me inside a thread as `@crm log &lt;customer&gt;`"),
        (SALES, f"<@{BOT}> hello there", THREAD, "Mention me inside a thread as `@crm log &lt;customer&gt;`"),
        (JA, f"<@{BOT}> log", THREAD, "スレッドの中で `@crm log &lt;顧客&gt;` とメンションすると"),
    ],
)
def test_a_mention_that_is_not_log_in_a_thread_gets_a_usage_hint_in_the_thread(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    user: str,
    text: str,
    thread_ts: str | None,
    hint: str,
) -> None:
    slack.add_thread(CHANNEL, THREAD, FIRST_MESSAGES)
    sender.event(mention(text, ts="1772586200.000700", user=user, thread_ts=thread_ts), event_id="Ev3")
    assert listeners.settle(SETTLED)
    [answer] = slack.delivered("chat.postEphemeral")
    assert hint in answer.params["text"]
    # Outside a thread the hint starts one under the mention; only the mentioner sees it.
    assert answer.params["thread_ts"] == (thread_ts or "1772586200.000700")
    assert (answer.params["channel"], answer.params["user"]) == (CHANNEL, user)
    assert interactions(engine) == [] and slack.delivered("chat.postMessage") == []


def test_an_ambiguous_or_unknown_customer_is_answered_in_the_thread(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Holdings")
    slack.add_thread(CHANNEL, THREAD, FIRST_MESSAGES)
    sender.event(mention(f"<@{BOT}> log acm", ts="1772586200.000700"), event_id="Ev4")
    sender.event(mention(f"<@{BOT}> log Initech", ts="1772586300.000800"), event_id="Ev5")
    assert listeners.settle(SETTLED)
    answers = sorted(slack.delivered("chat.postEphemeral"), key=lambda c: c.text)
    assert [a.params["thread_ts"] for a in answers] == [THREAD, THREAD]
    texts = "\n".join(a.text for a in answers)
    assert "Several customers match “acm”" in texts and "Acme Holdings" in texts and "Acme Inc." in texts
    assert "No customer matches “Initech”." in texts and "Create customer" in texts
    assert interactions(engine) == []


def test_a_thread_the_bot_may_not_read_is_explained(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.fail_next("conversations.replies", error="not_in_channel")
    sender.event(mention(f"<@{BOT}> log Acme", ts="1772586120.000300"), event_id="Ev6")
    assert listeners.settle(SETTLED)
    [answer] = slack.delivered("chat.postEphemeral")
    assert "invite me to the channel first" in answer.params["text"]
    assert interactions(engine) == []
