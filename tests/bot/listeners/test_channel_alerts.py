"""Channel alerts end to end: ``/crm subscribe`` over signed HTTP, alerts posted in the channel.

An event recorded by a request is posted by the nudge after its commit; the scheduler's round
(``AlertSender.send_pending``) posts what a failed post or a dead process left, and the follow-ups
that became overdue. Each alert is posted once per channel, masked as a shared card is.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import TEAM_ID, slack_escaped
from bot.jobs.alerts import METADATA_EVENT, AlertSender
from bot.transport.listener_pool import ListenerPool
from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.follow_ups.service import add_follow_up
from crm_core.models import AlertDelivery, AlertSubscription, AuditEvent
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.bot.conftest import BOT_TOKEN, NOW, SALES, Clock
from tests.bot.harness import SlackSender
from tests.factories import customer

MANAGER = "U0MANAGER"
GUEST = "U0GUEST"
ALERTS = "C0ALERTS"
OPERATOR = Actor("cli:admin", "cli")


@pytest.fixture
def manager(engine: Engine, slack: FakeSlack) -> str:
    slack.add_user(MANAGER, name="mia", locale="en-US", tz="UTC")
    with transaction(engine) as session:
        add_member(session, actor=OPERATOR, user_id=MANAGER, role="manager", timezone="UTC")
    return MANAGER


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(
            session, "Acme Inc.", email="buyer@acme.example", phone="+81 3-1234-5678", owner_id=SALES
        )


def ask(sender: SlackSender, slack: FakeSlack, text: str, *, user: str, channel: str = ALERTS) -> str:
    sent = sender.command(text, user=user, channel=channel)
    assert sent.answer.status == 200
    [reply] = slack.wait_for_reply(sent.response_id)
    return reply.text


def alerts_in(slack: FakeSlack, channel: str) -> list[dict[str, object]]:
    return [
        m
        for m in slack.channel_history(channel)
        if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT  # type: ignore[union-attr]
    ]


def sender_of(engine: Engine, slack: FakeSlack, worker: str = "test") -> AlertSender:
    from bot.slack_api.web_api import make_web_client
    from crm_core.config import Settings

    settings = Settings(database_url="sqlite://", slack_bot_token=BOT_TOKEN, slack_api_url=slack.api_url)
    return AlertSender(engine=engine, client=make_web_client(settings), team_timezone="UTC", worker=worker)


def test_a_support_case_logged_is_posted_once_in_the_subscribed_channel_masked(
    sender: SlackSender, slack: FakeSlack, engine: Engine, manager: str, acme: CustomerView
) -> None:
    reply = ask(sender, slack, "subscribe support", user=manager)
    assert "Subscribed: `support` alerts of everyone's customers, in English" in reply
    [announced] = slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ALERTS)
    assert "This channel now gets `support` alerts" in announced.text

    ask(
        sender,
        slack,
        "log Acme support Customer says the invoice for 4242 is wrong",
        user=SALES,
        channel="C0OTHER",
    )
    slack.wait_for("chat.postMessage", count=2, where=lambda c: c.params.get("channel") == ALERTS)
    [alert] = alerts_in(slack, ALERTS)
    text = str(alert["text"]) + str(alert["blocks"])
    assert "A support case was logged for *Acme Inc.* by <@U0SALES>" in text
    assert "b***@acme.example" in text and "***-5678" in text
    assert "buyer@acme.example" not in text and "invoice" not in text  # masked; no typed text

    assert sender_of(engine, slack).send_pending(NOW).sent == []  # the nudge posted it: nothing left
    assert len(alerts_in(slack, ALERTS)) == 1


def test_only_managers_and_admins_subscribe_and_guests_are_refused(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    assert "your role (sales) may not" in ask(sender, slack, "subscribe support", user=SALES)
    slack.add_user(GUEST, is_restricted=True)
    assert "guest" in ask(sender, slack, "subscriptions", user=GUEST).lower()
    with transaction(engine) as session:
        assert session.scalars(select(AlertSubscription)).all() == []
        refused = session.scalars(select(AuditEvent.action).where(AuditEvent.allowed.is_(False))).all()
    assert "alerts.manage" in refused


def test_a_channel_the_bot_is_not_in_is_told_how_to_invite_it(
    sender: SlackSender, slack: FakeSlack, engine: Engine, manager: str
) -> None:
    slack.fail_next("chat.postMessage", error="not_in_channel")
    sent = sender.command("subscribe new-customer", user=manager, channel=ALERTS)
    replies = slack.wait_for_reply(sent.response_id, count=2)
    assert "Subscribed" in replies[0].text
    assert "`/invite @crm`" in replies[1].text
    with transaction(engine) as session:
        assert session.scalars(select(AlertSubscription.topic)).all() == ["new-customer"]


def test_subscriptions_are_listed_and_ended_and_japanese_is_understood(
    sender: SlackSender, slack: FakeSlack, manager: str
) -> None:
    assert "no alerts" in ask(sender, slack, "subscriptions", user=manager)
    ask(sender, slack, "subscribe vip-risk owner:<@U0SALES|sam> lang:ja", user=manager)
    ask(sender, slack, "購読 期限切れ", user=manager)
    listed = ask(sender, slack, "subscriptions", user=manager)
    assert "`overdue` alerts of everyone's customers, in English" in listed
    assert "`vip-risk` alerts of <@U0SALES>'s customers, in Japanese" in listed
    assert "no longer gets `overdue`" in ask(sender, slack, "unsubscribe overdue", user=manager)
    assert "did not subscribe to `overdue`" in ask(sender, slack, "unsubscribe overdue", user=manager)
    assert "“weather” is not an alert topic" in ask(sender, slack, "subscribe weather", user=manager)


def test_a_retried_subscribe_delivery_subscribes_and_announces_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, manager: str, listeners: ListenerPool
) -> None:
    fields = {
        "team_id": TEAM_ID,
        "channel_id": ALERTS,
        "user_id": manager,
        "command": "/crm",
        "text": slack_escaped("subscribe support"),
        "response_url": slack.response_url("retried"),
        "trigger_id": f"trigger.retried.{id(sender)}",
    }
    assert sender.post_form(fields).status == 200
    assert sender.post_form(fields, headers={"X-Slack-Retry-Num": "1"}).status == 200
    slack.wait_for_reply("retried")
    with transaction(engine) as session:
        assert len(session.scalars(select(AlertSubscription)).all()) == 1
    slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ALERTS)
    assert listeners.settle(10)
    assert len(slack.calls_to("chat.postMessage", channel=ALERTS)) == 1


@pytest.mark.parametrize(
    "fault", [{"status": 429, "retry_after": 0}, {"status": 500}, {"error": "fatal_error"}]
)
def test_a_failed_alert_post_is_posted_once_by_a_later_round(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    manager: str,
    acme: CustomerView,
    fault: dict[str, object],
) -> None:
    ask(sender, slack, "subscribe support", user=manager)
    slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ALERTS)
    slack.fail_next("chat.postMessage", **fault)  # type: ignore[arg-type]
    ask(sender, slack, "log Acme support Broken", user=SALES, channel="C0OTHER")
    if fault.get("status") != 429:  # a 429 is retried at once; the others wait for a checked round
        _wait_for_failed_claim(engine)
        sender_of(engine, slack).send_pending(NOW)
    slack.wait_for("chat.postMessage", count=2, where=lambda c: c.params.get("channel") == ALERTS)
    assert len(alerts_in(slack, ALERTS)) == 1
    assert sender_of(engine, slack).send_pending(NOW).sent == []


def _wait_for_failed_claim(engine: Engine) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with transaction(engine) as session:
            if session.scalars(select(AlertDelivery.status)).all() == ["failed"]:
                return
        time.sleep(0.05)
    raise AssertionError("the failed post released no claim")


def test_an_alert_posted_but_not_recorded_is_found_in_the_channel_not_posted_again(
    slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    from crm_core.alerts.subscriptions import subscribe
    from crm_core.alerts.topics import Topic
    from crm_core.interactions.service import log_interaction

    with transaction(engine) as session:
        subscribe(
            session, actor=OPERATOR, channel_id=ALERTS, topic=Topic.SUPPORT, owner_id=None, language="en"
        )
    with transaction(engine) as session:
        log_interaction(
            session,
            actor=OPERATOR,
            customer_external_id=acme.external_id,
            kind="support",
            summary="x",
            occurred_at=NOW.replace(tzinfo=None),
        )
    first = sender_of(engine, slack, "first")
    assert len(first.send_pending(NOW).sent) == 1
    with transaction(engine) as session:  # as if the process died between posting and recording
        delivery = session.scalars(select(AlertDelivery)).one()
        delivery.status, delivery.slack_ts = "failed", None
    again = sender_of(engine, slack, "second").send_pending(NOW)
    assert len(again.sent) == 1
    assert len(alerts_in(slack, ALERTS)) == 1
    assert slack.calls_to("conversations.history", channel=ALERTS)


def test_a_follow_up_that_became_overdue_is_posted_once_to_its_owners_channel(
    slack: FakeSlack, engine: Engine, acme: CustomerView, clock: Clock
) -> None:
    from crm_core.alerts.subscriptions import subscribe
    from crm_core.alerts.topics import Topic

    with transaction(engine) as session:
        subscribe(
            session, actor=OPERATOR, channel_id=ALERTS, topic=Topic.OVERDUE, owner_id=SALES, language="en"
        )
        subscribe(
            session,
            actor=OPERATOR,
            channel_id="C0ELSE",
            topic=Topic.OVERDUE,
            owner_id="U0OTHER",
            language="en",
        )
        add_follow_up(
            session,
            actor=Actor(SALES, "slack", "sales"),
            customer_external_id=acme.external_id,
            due_on=NOW.date(),
            note="send the secret price list",
        )
    alerts = sender_of(engine, slack)
    assert alerts.send_pending(NOW).sent == []  # due today: not overdue yet
    tomorrow = NOW + dt.timedelta(days=1)
    assert len(alerts.send_pending(tomorrow).sent) == 1
    assert alerts.send_pending(tomorrow + dt.timedelta(hours=1)).sent == []
    [alert] = alerts_in(slack, ALERTS)
    assert f"due {NOW.date().isoformat()} is overdue" in str(alert["text"])
    assert "secret" not in str(alert["blocks"])
    assert alerts_in(slack, "C0ELSE") == []
