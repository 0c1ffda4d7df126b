"""Sending requests to the served app exactly as Slack does: the console and the end-to-end tests.

Every request is signed with the v0 scheme (HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the
signing secret) and posted over real HTTP: slash commands and interactivity as form bodies
(interactivity in a ``payload=`` field), events as JSON. Response URLs point at the fake Slack, so
what the app answers through them is recorded there. Buttons are clicked and modals submitted from
what the app actually rendered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.blocks.limits import escape
from bot.console.fake_web_api import FakeSlack
from bot.ids import Field

TEAM_ID = FakeSlack.TEAM_ID
CHANNEL = "C0SALES"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Sent:
    """A request that was answered; ``response_id`` names its response URL on the fake Slack."""

    answer: HttpAnswer
    response_id: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    def __init__(self, url: str, secret: str, slack: FakeSlack) -> None:
        self.url = url
        self.secret = secret
        self.slack = slack
        self._ids = itertools.count(1)
        # Slack's trigger and event ids are unique for good; the app keeps them (bot.transport.inbox)
        # and ignores one seen before, so each sender's ids differ from every earlier sender's.
        self._run = secrets.token_hex(4)

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        request = urllib.request.Request(
            f"{self.url}/slack/events",
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature or sign(self.secret, stamp, body),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return HttpAnswer(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return HttpAnswer(error.code, error.read().decode())

    def post_form(self, fields: Mapping[str, str], **options: Any) -> HttpAnswer:
        return self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded", **options)

    def command(self, text: str, *, user: str = "U0SALES", channel: str = CHANNEL, **options: Any) -> Sent:
        """``/crm text`` typed by ``user``, sent as Slack sends it (``slack_escaped``)."""
        response_id = self._next_id("cmd")
        escaped = slack_escaped(text)
        fields = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "sales",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/crm",
            "text": escaped,
            "api_app_id": "A0CRM",
            "response_url": self.slack.response_url(response_id),
            "trigger_id": self._next_id(f"trigger.{self._run}."),
        }
        return Sent(self.post_form(fields, **options), response_id)

    def _interaction(self, kind: str, user: str) -> dict[str, Any]:
        """What every interactivity payload carries: its type, the team, the user, a trigger id."""
        return {
            "type": kind,
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0CRM",
            "token": "legacy-verification-token",
            "trigger_id": self._next_id(f"trigger.{self._run}."),
        }

    def interact(self, payload: Mapping[str, Any], **options: Any) -> HttpAnswer:
        return self.post_form({"payload": json.dumps(payload)}, **options)

    def click(self, element: Mapping[str, Any], *, user: str = "U0SALES", channel: str = CHANNEL) -> Sent:
        """Click a button the app rendered in an (ephemeral) message."""
        response_id = self._next_id("click")
        payload = {
            **self._interaction("block_actions", user),
            "container": {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": channel,
                "is_ephemeral": True,
            },
            "channel": {"id": channel, "name": "sales"},
            "response_url": self.slack.response_url(response_id),
            "actions": [_clicked(element)],
        }
        return Sent(self.interact(payload), response_id)

    def click_in_view(self, element: Mapping[str, Any], view: Mapping[str, Any], *, user: str) -> HttpAnswer:
        """Click a button on a view (the App Home tab): no channel, no response URL, the view instead."""
        payload = {
            **self._interaction("block_actions", user),
            "container": {"type": "view", "view_id": view.get("id", "")},
            "view": dict(view),
            "actions": [_clicked(element)],
        }
        return self.interact(payload)

    def shortcut(
        self, callback_id: str, message: Mapping[str, Any], *, user: str = "U0SALES", channel: str = CHANNEL
    ) -> Sent:
        """A message shortcut chosen from ``message``'s menu (``message_action``)."""
        response_id = self._next_id("shortcut")
        payload = {
            **self._interaction("message_action", user),
            "callback_id": callback_id,
            "action_ts": f"{time.time():.6f}",
            "message_ts": message["ts"],
            "message": dict(message),
            "channel": {"id": channel, "name": "sales"},
            "response_url": self.slack.response_url(response_id),
        }
        return Sent(self.interact(payload), response_id)

    def submit(
        self, view: Mapping[str, Any], values: Mapping[Field, Any], *, user: str = "U0SALES"
    ) -> HttpAnswer:
        """Submit a modal the app opened, with ``values`` typed or picked into its inputs."""
        payload = {
            **self._interaction("view_submission", user),
            "view": {"id": self._next_id("V0VIEW"), **view, "state": {"values": form_state(view, values)}},
        }
        return self.interact(payload)

    def suggest(self, view: Mapping[str, Any], query: str, *, user: str = "U0SALES") -> HttpAnswer:
        """What Slack asks while someone types into the modal's customer picker."""
        payload = {
            **self._interaction("block_suggestion", user),
            "action_id": Field.CUSTOMER.value,
            "block_id": Field.CUSTOMER.value,
            "value": query,
            "view": view,
        }
        return self.interact(payload)

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> HttpAnswer:
        """An Events API callback; a retry carries the same ``event_id`` and X-Slack-Retry-* headers."""
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0CRM",
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": FakeSlack.BOT_USER_ID, "is_bot": True}],
        }
        headers = (
            {}
            if retry_num is None
            else {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        )
        return self.post(json.dumps(body).encode(), "application/json", headers=headers)

    def open_home(self, *, user: str) -> HttpAnswer:
        """The user opens the app's Home tab (``app_home_opened``)."""
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
        return self.event(event, event_id=self._next_id(f"EvHome{self._run}."))


# A person picked from Slack's menu, written in a test or the console as Slack sends it.
_MENTION = re.compile(r"(<@[UW][A-Z0-9]+(?:\|[^<>]*)?>)")
_LINKED = re.compile(r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)|(?P<url>https?://[^\s<>]+)")


def slack_escaped(text: str) -> str:
    """Command text as Slack sends it with the manifest's ``should_escape: true``.

    Mentions (written ``<@U…|name>``) stay markup; e-mail addresses and URLs become Slack's links;
    every other ``&``, ``<`` and ``>`` is escaped.
    """
    parts = _MENTION.split(text)
    return "".join(part if _MENTION.fullmatch(part) else _LINKED.sub(_link, escape(part)) for part in parts)


def _link(found: re.Match[str]) -> str:
    if found.group("email"):
        return f"<mailto:{found.group('email')}|{found.group('email')}>"
    return f"<{found.group('url')}>"


def _clicked(element: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": element["action_id"],
        "block_id": "b",
        "value": element.get("value", ""),
        "text": element["text"],
        "action_ts": f"{time.time():.6f}",
    }


def form_state(view: Mapping[str, Any], values: Mapping[Field, Any]) -> dict[str, Any]:
    """``view.state.values`` as Slack builds it, from the inputs' element types."""
    elements = {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}
    state: dict[str, Any] = {}
    for field, value in values.items():
        element = elements[field]
        kind = element["type"]
        if kind == "plain_text_input":
            entry = {"type": kind, "value": value}
        elif kind == "users_select":
            entry = {"type": kind, "selected_user": value}
        elif kind == "datepicker":
            entry = {
                "type": kind,
                "selected_date": value.isoformat() if isinstance(value, dt.date) else value,
            }
        else:
            entry = {
                "type": kind,
                "selected_option": {"text": {"type": "plain_text", "text": str(value)}, "value": value},
            }
        state[field.value] = {field.value: entry}
    return state
