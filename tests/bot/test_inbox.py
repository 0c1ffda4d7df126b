"""Acknowledged requests are kept in the store's inbox: a replay is stored once, a long backlog says busy."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, func, select

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import CHANNEL, TEAM_ID, SlackSender, sign
from bot.transport import inbox
from bot.transport.listener_pool import ListenerPool
from crm_core.models import InboxEntry, Interaction
from crm_core.store import transaction
from tests.bot.conftest import SALES, SIGNING_SECRET
from tests.factories import customer


@pytest.fixture
def acme(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")


def interactions(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Interaction)) or 0)


def test_a_replayed_slash_command_is_stored_once_and_answered_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    """The same signed ``/crm log`` sent twice within Slack's five minutes, as an attacker would."""
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": SALES,
            "command": "/crm",
            "text": "log acme call asked for a quote",
            "response_url": slack.response_url("replayed"),
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()
    stamp = int(time.time())
    signature = sign(SIGNING_SECRET, str(stamp), body)
    for _ in range(2):
        answer = sender.post(body, "application/x-www-form-urlencoded", timestamp=stamp, signature=signature)
        assert (answer.status, answer.body) == (200, "")
    assert listeners.settle(30)
    [reply] = slack.wait_for_reply("replayed")
    assert "Logged" in reply.text
    assert slack.replies("replayed") == [reply]
    assert interactions(engine) == 1


def test_every_acknowledged_command_is_marked_done_by_its_handler(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    logged = sender.command("log acme call hello")
    found = sender.command("find acme")
    wrong = sender.command("log")  # a usage error is an answer too
    assert listeners.settle(30)
    for sent in (logged, found, wrong):
        assert len(slack.wait_for_reply(sent.response_id)) == 1
    with transaction(engine) as session:
        rows = session.execute(select(InboxEntry.handler, InboxEntry.done_at)).all()
    assert len(rows) == 3 and all(done is not None for _, done in rows)
    assert interactions(engine) == 1


def test_a_backlog_longer_than_the_workers_clear_in_seconds_is_answered_busy_in_the_ack(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox, "BACKLOG_FLOOR", 3)  # a store that has done nothing lately allows three
    held = slack.hold_next("users.info", times=3)  # the three wait for Slack to say who is asking
    waiting = [sender.command(f"log acme call number {n}") for n in range(3)]
    refused = sender.command("log acme call one too many")
    assert refused.answer.status == 200
    # A plain-text answer to a slash command is shown to the person who typed it, and only to them.
    assert "busy" in refused.answer.body and "nothing was saved" in refused.answer.body
    held.set()
    assert listeners.settle(30)
    for sent in waiting:
        assert "Logged" in slack.wait_for_reply(sent.response_id)[0].text
    assert slack.replies(refused.response_id) == []
    assert interactions(engine) == 3
