"""Signed but crafted interactive payloads: never a 5xx, one log line, a polite word to the person
where Slack left a way to reach them (issue 10, item 4)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId, CallbackId
from bot.transport.listener_pool import ListenerPool
from tests.bot.harness import CHANNEL, SlackSender

STALE = "That button or form was not made by this crm-bot"


def click(sender: SlackSender, slack: FakeSlack, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **sender._interaction("block_actions", "U0SALES"),
        "response_url": slack.response_url("crafted"),
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.2", "is_ephemeral": True},
        "actions": actions,
    }


def submission(sender: SlackSender, callback_id: str, metadata: str) -> dict[str, Any]:
    view = {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": metadata}
    return {**sender._interaction("view_submission", "U0SALES"), "view": {**view, "blocks": [], "state": {}}}


Crafted = Callable[[SlackSender, FakeSlack], dict[str, Any]]
CASES: dict[str, tuple[Crafted, int, str | None]] = {
    # Bolt itself cannot read a click without actions: a 400 and the server's one line.
    "actions: []": (lambda s, f: click(s, f, []), 400, None),
    "a button value that is not the app's JSON": (
        lambda s, f: click(s, f, [{"action_id": ActionId.REASSIGN, "value": "[1, 2]", "block_id": "b"}]),
        200,
        "response_url",
    ),
    "private_metadata without the follow-up": (
        lambda s, f: submission(s, CallbackId.REASSIGN_FOLLOW_UP, '{"channel": "C0SALES"}'),
        200,
        "chat.postEphemeral",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_crafted_payload_is_answered_without_a_5xx_and_logged_once(
    sender: SlackSender,
    slack: FakeSlack,
    listeners: ListenerPool,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.INFO)
    crafted, status, told_by = CASES[case]
    answer = sender.interact(crafted(sender, slack))
    assert listeners.settle(30)
    assert answer.status == status
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and not lines[0].exc_info, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING  # the person's input, not our bug: no ERROR
    told = [c for c in slack.calls if c.method in ("response_url", "chat.postEphemeral", "chat.postMessage")]
    if told_by is None:
        assert told == []
    else:
        assert [c.method for c in told] == [told_by] and STALE in told[0].text
