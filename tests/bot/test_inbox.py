"""Acknowledged requests are kept in the store's inbox: a replay is stored once, a long backlog says busy."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, func, select

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import CHANNEL, TEAM_ID, SlackSender, sign
from bot.request.handlers import Routed, reads
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


def send_twice(sender: SlackSender, slack: FakeSlack, text: str, response_id: str) -> None:
    """The same signed ``/crm`` command sent twice within Slack's five minutes, as an attacker would."""
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": SALES,
            "command": "/crm",
            "text": text,
            "response_url": slack.response_url(response_id),
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()
    stamp = int(time.time())
    signature = sign(SIGNING_SECRET, str(stamp), body)
    for _ in range(2):
        answer = sender.post(body, "application/x-www-form-urlencoded", timestamp=stamp, signature=signature)
        assert (answer.status, answer.body) == (200, "")


def test_a_replayed_slash_command_is_stored_once_and_answered_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    send_twice(sender, slack, "log acme call asked for a quote", "replayed")
    assert listeners.settle(30)
    [reply] = slack.wait_for_reply("replayed")
    assert "Logged" in reply.text
    assert slack.replies("replayed") == [reply]
    assert interactions(engine) == 1


def test_every_kept_command_is_marked_done_by_its_handler_and_searches_are_not_kept(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    logged = sender.command("log acme call hello")
    found = sender.command("find acme")  # a reader, told by its words at the ack: nothing to keep
    helped = sender.command("help")
    wrong = sender.command("log")  # a usage error is an answer too; what does not parse is kept
    assert listeners.settle(30)
    for sent in (logged, found, helped, wrong):
        assert len(slack.wait_for_reply(sent.response_id)) == 1
    assert "Acme" in slack.wait_for_reply(found.response_id)[0].text
    with transaction(engine) as session:
        rows = session.execute(select(InboxEntry.request, InboxEntry.done_at)).all()
    assert sorted(request["body"]["text"] for request, _ in rows) == ["log", "log acme call hello"]
    assert all(done is not None for _, done in rows)
    assert interactions(engine) == 1


def test_a_replayed_search_is_answered_again_and_stores_nothing(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    """Not kept, a search's replay is a second answer in the same conversation, and no write."""
    send_twice(sender, slack, "find acme", "searched")
    assert listeners.settle(30)
    replies = slack.replies("searched")
    assert len(replies) == 2 and all("Acme" in reply.text for reply in replies)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxEntry)) == 0
    assert interactions(engine) == 0


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


def _reads_when_asked_to(body: Mapping[str, Any]) -> bool:
    if body.get("text") == "unreadable":
        raise ValueError("cannot tell")
    return body.get("text") == "find acme"


def test_a_routed_request_is_kept_unless_its_body_surely_reads() -> None:
    routed = Routed(lambda request: reads(lambda request: None), reads_only=_reads_when_asked_to)
    assert not inbox.is_kept(routed, {"text": "find acme"})
    assert inbox.is_kept(routed, {"text": "log acme call"})
    assert inbox.is_kept(routed, {"text": "unreadable"})  # what cannot be told apart is kept
    assert inbox.is_kept(Routed(lambda request: reads(lambda request: None)), {"text": "find acme"})


def test_an_event_is_acknowledged_only_once_it_is_kept(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool, acme: None
) -> None:
    """Slack's retries are an event's only other copy: its 200 must not come before its inbox row.

    The inbox is held locked, so the row cannot be written yet: an ack sent meanwhile (Bolt's
    automatic ack of an event, on another thread than the one keeping it) is an event nobody kept.
    """
    answered_while_locked: list[bool] = []
    locked = threading.Event()
    mention = {"type": "app_mention", "user": SALES, "text": "<@U0BOT> log acme", "ts": "1.2"}
    mention["channel"] = CHANNEL

    def send() -> None:
        answer = sender.event(mention, event_id="Ev0KEPTFIRST")
        answered_while_locked.append(locked.is_set())
        assert answer.status == 200

    thread = threading.Thread(target=send)
    with engine.begin() as holder:  # on SQLite BEGIN IMMEDIATE: the write lock
        if engine.dialect.name == "postgresql":
            holder.exec_driver_sql(f"LOCK TABLE {InboxEntry.__tablename__} IN EXCLUSIVE MODE")
        locked.set()
        thread.start()
        thread.join(timeout=1.0)  # an ack that does not wait for the row comes now
        locked.clear()
    thread.join(timeout=30)
    assert answered_while_locked == [False]
    assert listeners.settle(30)
    with transaction(engine) as session:
        assert session.scalar(select(InboxEntry.key)) == "event:Ev0KEPTFIRST"
