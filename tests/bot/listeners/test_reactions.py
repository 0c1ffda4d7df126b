"""The log emoji on a message, end to end: signed ``reaction_added`` events in, the thread logged once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.console.workflow_events import reaction_added
from bot.ids import ActionId
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import Interaction
from crm_core.privacy.posted import posted_naming
from crm_core.store import transaction
from tests.bot.conftest import SALES
from tests.bot.harness import SlackSender, button
from tests.factories import customer

CHANNEL = "C0SUPPORT"
THREAD = "1772586000.000100"
REPLY = "1772586060.000200"
MESSAGES = [
    {"user": "U0BUYER", "text": "Our Acme order #42 is late"},
    {"user": SALES, "ts": REPLY, "text": "Sorry! Checking with the warehouse."},
]
TEXT = "@U0BUYER: Our Acme order #42 is late\n@U0SALES: Sorry! Checking with the warehouse."
SETTLED = 30.0


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.")


def react(
    sender: SlackSender,
    *,
    ts: str,
    event_id: str,
    user: str = SALES,
    emoji: str = "memo",
    retry: int | None = None,
) -> None:
    event = reaction_added(user=user, channel=CHANNEL, ts=ts, reaction=emoji)
    assert sender.event(event, event_id=event_id, retry_num=retry).status == 200


def logged(engine: Engine) -> list[tuple[int, str, str, str | None]]:
    with transaction(engine) as session:
        return [(i.customer_id, i.kind, i.summary, i.author) for i in session.scalars(select(Interaction))]


def in_thread(slack: FakeSlack) -> list[str]:
    return [
        c.params["text"] for c in slack.delivered("chat.postMessage") if c.params.get("thread_ts") == THREAD
    ]


def test_a_reaction_on_a_reply_logs_the_thread_once_however_often_it_is_delivered(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, THREAD, MESSAGES)
    react(sender, ts=REPLY, event_id="EvR1")
    for retry in (1, 2, 3):
        react(sender, ts=REPLY, event_id="EvR1", retry=retry)
    react(sender, ts=THREAD, event_id="EvR2")  # the same thread again, from its parent: nothing new
    assert listeners.settle(SETTLED)
    assert logged(engine) == [(acme.id, "support", TEXT, SALES)]
    assert in_thread(slack) == [":white_check_mark: Logged this thread to *Acme Inc.*'s timeline (Support)."]
    with transaction(engine) as session:  # the confirmation names the customer: an erasure finds it
        assert [(p.channel_id, p.kind) for p in posted_naming(session, customer_id=acme.id)] == [
            (CHANNEL, "confirmation")
        ]


def test_other_emoji_are_ignored(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, THREAD, MESSAGES)
    react(sender, ts=THREAD, event_id="EvR3", emoji="thumbsup")
    assert listeners.settle(SETTLED)
    assert logged(engine) == [] and [c.method for c in slack.calls if c.method != "auth.test"] == []


def test_a_thread_naming_several_customers_asks_the_reacting_person_to_pick_in_a_dm(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        globex = customer(session, "Globex")
    slack.add_thread(
        CHANNEL, THREAD, [*MESSAGES, {"user": SALES, "ts": "1772586100.000300", "text": "Globex too"}]
    )
    react(sender, ts=THREAD, event_id="EvR4")
    assert listeners.settle(SETTLED)
    [dm] = slack.delivered("chat.postMessage")
    assert dm.params["channel"] == SALES and "names several customers" in dm.text
    assert logged(engine) == []
    sender.click(button(dm, ActionId.LOG_REACTED_TO, index=1), user=SALES, channel=f"D{SALES}")
    assert listeners.settle(SETTLED)
    assert [row[:2] for row in logged(engine)] == [(globex.id, "support")]
    assert in_thread(slack) == [":white_check_mark: Logged this thread to *Globex*'s timeline (Support)."]


def test_a_message_naming_nobody_offers_the_picker(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: CustomerView
) -> None:
    slack.add_thread(CHANNEL, "1772587000.000100", [{"user": "U0BUYER", "text": "where is my parcel?"}])
    react(sender, ts="1772587000.000100", event_id="EvR5")
    assert listeners.settle(SETTLED)
    [dm] = slack.delivered("chat.postMessage")
    picker: dict[str, Any] = dm.blocks[1]["elements"][-1]
    assert (picker["type"], picker["action_id"]) == ("external_select", ActionId.PICK_REACTED_TO)
    assert "names no customer I know" in dm.text and logged(engine) == []


@pytest.mark.parametrize("person", ["U0GUEST", "U0PARTNER"])
def test_a_guest_or_outsider_reacting_logs_nothing(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    person: str,
) -> None:
    slack.add_user("U0GUEST", is_restricted=True)
    slack.add_user("U0PARTNER", team_id="T0PARTNER")
    slack.add_thread(CHANNEL, THREAD, MESSAGES)
    react(sender, ts=THREAD, event_id="EvR6", user=person)
    assert listeners.settle(SETTLED)
    assert logged(engine) == [] and in_thread(slack) == []
    [refusal] = slack.delivered("chat.postEphemeral")
    assert refusal.params["user"] == person and "does not show customer data to guests" in refusal.text


@pytest.mark.parametrize(
    "method", ["users.info", "conversations.replies", "chat.getPermalink", "chat.postMessage"]
)
@pytest.mark.parametrize("status", [429, 503])
def test_slack_busy_or_failing_once_on_a_call_still_logs_and_confirms(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: CustomerView,
    method: str,
    status: int,
) -> None:
    slack.add_thread(CHANNEL, THREAD, MESSAGES)
    slack.fail_next(method, status=status, retry_after=0 if status == 429 else None)
    react(sender, ts=REPLY, event_id="EvR7")
    assert listeners.settle(SETTLED)
    assert slack.faults_left(method) == 0
    assert logged(engine) == [(acme.id, "support", TEXT, SALES)]
    assert len(in_thread(slack)) == 1
