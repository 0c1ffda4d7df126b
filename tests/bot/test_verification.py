"""Nothing unverified is acted on, nothing Bolt cannot read gives a 5xx, no request body reaches the log.

Issue 10, items 1 to 3. Every request goes over real HTTP to the served app; what the app did is
read from the fake Slack, which records every Web API call and every POST to a response URL.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest
from sqlalchemy import Engine

from bot.app import create_app
from bot.console.fake_web_api import FakeSlack
from bot.log_lines import OneLineFilter, printable
from bot.transport.http_server import HttpServer, wsgi_application
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings
from tests.bot.conftest import SIGNING_SECRET
from tests.bot.harness import CHANNEL, sign

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def post(server: HttpServer, body: bytes, content_type: str, timestamp: str, *, signed: bool = True) -> int:
    """POST ``body`` with ``timestamp`` as given (any text), signed with the app's secret or not."""
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp}
    if signed:
        headers["X-Slack-Signature"] = sign(SIGNING_SECRET, timestamp, body)
    request = urllib.request.Request(f"{server.url}/slack/events", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def now() -> str:
    return str(int(time.time()))


def command(slack: FakeSlack, text: str = "find acme", user: str = "U0SALES") -> bytes:
    fields = {
        "command": "/crm",
        "text": text,
        "user_id": user,
        "team_id": FakeSlack.TEAM_ID,
        "channel_id": CHANNEL,
        "response_url": slack.response_url("forged"),
        "trigger_id": "trigger.forged",
    }
    return urlencode(fields).encode()


def unverified_bodies(slack: FakeSlack) -> dict[str, tuple[bytes, str]]:
    """A command and a click (with a response URL on the fake), and a mention (with only a channel)."""
    click = {
        "type": "block_actions",
        "user": {"id": "U0SALES", "team_id": FakeSlack.TEAM_ID},
        "team": {"id": FakeSlack.TEAM_ID},
        "channel": {"id": CHANNEL},
        "response_url": slack.response_url("forged"),
        "actions": [{"action_id": "no-such-action", "value": "x"}],
    }
    mention = {
        "type": "event_callback",
        "team_id": FakeSlack.TEAM_ID,
        "event_id": "Ev0FORGED",
        "event": {"type": "app_mention", "user": "U0SALES", "channel": CHANNEL, "text": "hi", "ts": "1.2"},
    }
    return {
        "command": (command(slack), FORM),
        "click": (urlencode({"payload": json.dumps(click)}).encode(), FORM),
        "mention": (json.dumps(mention).encode(), JSON),
    }


@pytest.mark.parametrize("surface", ["command", "click", "mention"])
@pytest.mark.parametrize("timestamp", ["abc", "", "1.5", "{now}.0", "+{now}", "{now}_0"])
def test_a_timestamp_that_is_not_a_whole_number_is_refused_and_nothing_is_sent_anywhere(
    server: HttpServer, slack: FakeSlack, listeners: ListenerPool, surface: str, timestamp: str
) -> None:
    body, content_type = unverified_bodies(slack)[surface]
    status = post(server, body, content_type, timestamp.format(now=now()))
    assert listeners.settle(30)
    # No users.info for the user it names, no apology to its response URL or channel.
    assert [c.method for c in slack.calls] == ["auth.test"]
    assert status == 401


MALFORMED = {
    "payload is a list": (b"payload=%5B1%5D", FORM),
    "payload is a number": (b"payload=1", FORM),
    "payload is broken JSON": (b"payload=%7Bbad", FORM),
    "JSON body is a list": (b"[1]", JSON),
    "JSON body is broken": (b'{"type": ', JSON),
    "100,000 nested lists": (b"[" * 100_000, JSON),
    "50,000 nested objects in a payload": (b"payload=" + b"%7B%22a%22%3A" * 50_000, FORM),
    "200 nested lists in an object": (b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}", JSON),
    "invalid UTF-8": (b"command=%2Fcrm&text=\xff\xfe", FORM),
    "enterprise is a number": (b'{"type": "event_callback", "enterprise": 5}', JSON),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_signed_body_bolt_cannot_read_is_a_400_with_one_line_and_no_traceback(
    server: HttpServer,
    slack: FakeSlack,
    listeners: ListenerPool,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    body, content_type = MALFORMED[case]
    assert post(server, body, content_type, now()) == 400
    assert listeners.settle(30)
    assert [c.method for c in slack.calls] == ["auth.test"]
    [line] = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert line.getMessage().startswith("refused a signed request that cannot be read to /slack/events:")
    assert f"{len(body)} bytes" in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("case", list(MALFORMED))
def test_the_same_bodies_unsigned_are_a_401(server: HttpServer, slack: FakeSlack, case: str) -> None:
    body, content_type = MALFORMED[case]
    assert post(server, body, content_type, now(), signed=False) == 401
    assert [c.method for c in slack.calls] == ["auth.test"]


@pytest.mark.parametrize(
    ("flaw", "reason"),
    [
        ("forged signature", "signature does not match"),
        ("stale", "timestamp is more than five minutes away"),
        ("no signature", "no signature"),
        ("timestamp abc", "timestamp is not a whole number"),
    ],
)
def test_a_refused_request_is_one_log_line_with_reason_address_and_length_never_its_body(
    server: HttpServer, slack: FakeSlack, caplog: pytest.LogCaptureFixture, flaw: str, reason: str
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_typed = "the customer's card is 4111 1111\nINFO forged: all good"
    body = command(slack, text=f"log acme note {secret_typed}")
    stamp = {"stale": str(int(time.time()) - 3600), "timestamp abc": "abc"}.get(flaw, now())
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp}
    if flaw != "no signature":
        headers["X-Slack-Signature"] = (
            "v0=" + "0" * 64 if flaw == "forged signature" else sign(SIGNING_SECRET, stamp, body)
        )
    request = urllib.request.Request(f"{server.url}/slack/events", data=body, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if "refused" in m] == [
        f"refused an unverified request to /slack/events: {reason} (from 127.0.0.1, {len(body)} bytes)"
    ]
    everything = "\n".join(messages)
    assert "4111" not in everything and "forged" not in everything and "/response/" not in everything


def test_bolts_own_check_logs_no_body_when_it_refuses(
    settings: Settings, engine: Engine, slack: FakeSlack, listeners: ListenerPool
) -> None:
    """Bolt's second check refuses only at the five-minute line here; its line then holds no body."""
    app = create_app(settings, engine, listener_executor=listeners)
    wsgi_application(app, SIGNING_SECRET)  # what serving the app sets up
    body = command(slack, text="log acme note 4111 1111").decode()
    stale = {"x-slack-request-timestamp": str(int(time.time()) - 3600), "x-slack-signature": "v0=" + "0" * 64}
    records: list[logging.LogRecord] = []
    bolt_log = logging.getLogger("slack_bolt.RequestVerification")
    capture = logging.Handler(logging.DEBUG)
    capture.emit = records.append  # type: ignore[method-assign,assignment]
    bolt_log.addHandler(capture)
    level, bolt_log.level = bolt_log.level, logging.DEBUG
    try:
        assert app.dispatch(BoltRequest(body=body, headers=dict(stale))).status == 401
    finally:
        bolt_log.removeHandler(capture)
        bolt_log.level = level
    [line] = [r.getMessage() for r in records]
    assert "4111" not in line and "/response/" not in line and "body not logged" in line


def test_printable_escapes_what_would_forge_or_garble_a_log_line() -> None:
    assert printable("U0SALES") == "U0SALES"
    forged = "a\nINFO forged\r\x1b[2J\u202egnp.exe\x00"
    assert printable(forged) == "a\\nINFO forged\\r\\x1b[2J\\u202egnp.exe\\x00"
    assert printable("x" * 500) == "x" * 200 + "…"


def test_every_record_a_handler_writes_is_one_line() -> None:
    record = logging.LogRecord("slack_bolt.App", logging.WARNING, "x.py", 1, "Unhandled %s", ("a\nb",), None)
    assert OneLineFilter().filter(record) and record.getMessage() == "Unhandled a\\nb"


def test_the_error_handler_never_answers_a_request_that_was_not_verified(
    settings: Settings, engine: Engine, slack: FakeSlack, listeners: ListenerPool
) -> None:
    """Straight into Bolt, past the server's check: Bolt's own check raises on "abc", and the error
    handler it calls must not answer the response URL, user or channel the body names."""
    app = create_app(settings, engine, listener_executor=listeners)
    headers = {"x-slack-request-timestamp": "abc", "x-slack-signature": "v0=" + "0" * 64}
    response = app.dispatch(BoltRequest(body=command(slack).decode(), headers=dict(headers)))
    assert listeners.settle(30)
    assert [c.method for c in slack.calls] == ["auth.test"]
    assert response.status == 401
