"""Reading what the app sent back to the fake Slack; requests go out through ``bot.console.signed_requests``.

``SlackSender`` (shared with ``crm-bot console``) signs requests as Slack does and posts them over
real HTTP; the helpers here find what the app rendered, so tests click and submit exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.console.fake_web_api import Call, FakeSlack
from bot.console.signed_requests import CHANNEL, SlackSender, sign

__all__ = ["CHANNEL", "SlackSender", "button", "elements", "opened_view", "sign", "texts"]


def opened_view(slack: FakeSlack, *, count: int = 1) -> dict[str, Any]:
    """The modal the app opened last (waiting for it), with the id Slack gave it."""
    call = slack.wait_for("views.open", count=count)[-1]
    return {"id": f"V0OPENED{count}", **call.params["view"]}


def texts(value: Any, kind: str | None = None) -> list[str]:
    """Every text object's text in blocks (of one ``kind`` of text object, if given)."""
    if isinstance(value, dict):
        own = (
            [value["text"]]
            if value.get("type") in ("mrkdwn", "plain_text") and kind in (None, value["type"])
            else []
        )
        return own + [t for item in value.values() for t in texts(item, kind)]
    if isinstance(value, list):
        return [t for item in value for t in texts(item, kind)]
    return []


def elements(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        yield from block.get("elements", ())
        if "accessory" in block:
            yield block["accessory"]


def button(call: Call, action_id: str, *, index: int = 0) -> dict[str, Any]:
    """The ``index``-th button with ``action_id`` in what the app sent."""
    found = [
        e for e in elements(call.blocks) if e.get("type") == "button" and e.get("action_id") == action_id
    ]
    assert len(found) > index, f"no button {action_id!r} #{index} in {call.text!r}"
    return found[index]
