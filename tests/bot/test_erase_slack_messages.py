"""An erasure reaches the bot's own Slack messages that named the person: listed with links, or deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import WORKSPACE_URL, FakeSlack
from bot.ids import ActionId
from bot.jobs.digests import DigestSender
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from bot.transport.listener_pool import ListenerPool
from crm_core.actor import Actor
from crm_core.config import Settings
from crm_core.follow_ups.service import add_follow_up
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.bot.conftest import BOT_TOKEN, SALES
from tests.bot.harness import CHANNEL, SlackSender, button
from tests.factories import customer

ADMIN = Actor(user_id="cli:admin", surface="cli")
REP = Actor(SALES, "slack", "sales")
BOSS = "U0BOSS"
DAY = dt.date(2026, 3, 4)
THREAD_CHANNEL, THREAD = "C0SUPPORT", "1772586000.000100"


@pytest.fixture
def digests(engine: Engine, settings: Settings, slack: FakeSlack) -> list[str]:
    """Today's digests, sent: the manager's and the rep's each name Acme; the ts of each."""
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id=BOSS, role="manager")
        add_member(session, actor=ADMIN, user_id=SALES, role="sales")
        for name, external_id in (("Acme Inc.", "ACME"), ("Globex", "GLOBEX")):
            customer(session, name, external_id=external_id, owner_id=SALES)
            add_follow_up(
                session, actor=REP, customer_external_id=external_id, due_on=dt.date(2026, 3, 1), note="call"
            )
    sender = DigestSender(
        engine=engine,
        client=make_web_client(settings),
        people=People(engine=engine, default_timezone="UTC"),
        default_timezone="UTC",
        worker="test",
    )
    assert sorted(sender.send_for_date(DAY, dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC)).sent) == [BOSS, SALES]
    return [_only(slack, f"D{user}")["ts"] for user in (BOSS, SALES)]


def _only(slack: FakeSlack, channel: str) -> dict[str, Any]:
    [message] = slack.channel_history(channel)
    return message


def link(channel: str, ts: str) -> str:
    return f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"


@pytest.fixture
def with_slack(monkeypatch: pytest.MonkeyPatch, slack: FakeSlack) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)


@pytest.mark.usefixtures("with_slack")
def test_erase_lists_the_digests_that_named_the_person_then_deletes_them_on_request(
    crm: Any, slack: FakeSlack, digests: list[str]
) -> None:
    boss_ts, rep_ts = digests
    listed = crm("privacy", "erase", "ACME", "--yes")
    assert listed.exit_code == 0, listed.stderr
    assert link(f"D{BOSS}", boss_ts) in listed.stdout and link(f"D{SALES}", rep_ts) in listed.stdout
    assert "the bot's own Slack messages that named them (2;" in listed.stdout
    assert slack.calls_to("chat.delete") == []

    deleted = crm("privacy", "erase", "ACME", "--yes", "--delete-slack-messages")
    assert deleted.exit_code == 0, deleted.stderr
    assert "deleted 2 of the bot's Slack messages that named them" in deleted.stdout
    assert {(c.params["channel"], c.params["ts"]) for c in slack.delivered("chat.delete")} == {
        (f"D{BOSS}", boss_ts),
        (f"D{SALES}", rep_ts),
    }
    assert slack.channel_history(f"D{BOSS}") == [] and slack.channel_history(f"D{SALES}") == []
    assert (
        "the bot posted no Slack message that named them" in crm("privacy", "erase", "ACME", "--yes").stdout
    )


@pytest.mark.usefixtures("with_slack")
def test_a_message_slack_refuses_to_delete_is_reported_and_tried_again_next_time(
    crm: Any, slack: FakeSlack, digests: list[str]
) -> None:
    slack.fail_next("chat.delete", error="cant_delete_message")
    first = crm("privacy", "erase", "ACME", "--yes", "--delete-slack-messages")
    assert first.exit_code != 0
    assert "1 could not be deleted" in first.stderr and "(cant_delete_message)" in first.stderr
    assert "Traceback" not in first.stderr
    again = crm("privacy", "erase", "ACME", "--yes", "--delete-slack-messages")
    assert again.exit_code == 0 and "deleted 1 of the bot's Slack messages" in again.stdout
    assert len(slack.calls_to("chat.delete")) == 3  # two, and the refused one again
    assert slack.channel_history(f"D{BOSS}") == [] and slack.channel_history(f"D{SALES}") == []


def test_deleting_needs_the_bots_token_and_then_nothing_is_erased(
    crm: Any, monkeypatch: pytest.MonkeyPatch, digests: list[str]
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    refused = crm("privacy", "erase", "ACME", "--yes", "--delete-slack-messages")
    assert refused.exit_code != 0 and "needs SLACK_BOT_TOKEN" in refused.stderr
    assert "nothing was erased" in refused.stderr
    listed = crm("privacy", "erase", "ACME", "--yes")
    assert listed.exit_code == 0 and f"channel D{BOSS}, ts {digests[0]}" in listed.stdout


@pytest.mark.usefixtures("with_slack")
def test_thread_confirmations_and_shared_cards_are_recorded_as_posted_and_reached_by_erase(
    crm: Any, slack: FakeSlack, engine: Engine, sender: SlackSender, listeners: ListenerPool
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.", external_id="ACME")
    slack.add_thread(THREAD_CHANNEL, THREAD, [{"user": "U0BUYER", "text": "Where is my order?"}])
    mention = {"type": "app_mention", "user": SALES, "text": f"<@{FakeSlack.BOT_USER_ID}> log Acme"}
    mention |= {"ts": "1772586120.000300", "thread_ts": THREAD, "channel": THREAD_CHANNEL}
    assert sender.event(mention, event_id="Ev1").status == 200
    assert listeners.settle(30.0)
    find = sender.command("find acme")
    card = slack.wait_for_reply(find.response_id)[0]
    sender.click(button(card, ActionId.SHARE_PROFILE))
    slack.wait_for("chat.postMessage", count=2)
    posted = {(c.params["channel"], c.params.get("thread_ts")) for c in slack.delivered("chat.postMessage")}
    assert posted == {(THREAD_CHANNEL, THREAD), (CHANNEL, None)}

    erased = crm("privacy", "erase", "ACME", "--yes", "--delete-slack-messages")
    assert erased.exit_code == 0, erased.stderr
    assert "deleted 2 of the bot's Slack messages that named them" in erased.stdout
    assert slack.channel_history(THREAD_CHANNEL) == [] and slack.channel_history(CHANNEL) == []
    assert slack.calls_to("conversations.replies")  # the thread people wrote is theirs: read, never deleted
    assert {c.params["channel"] for c in slack.calls_to("chat.delete")} == {THREAD_CHANNEL, CHANNEL}
