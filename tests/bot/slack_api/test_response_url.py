"""Replies to response URLs, posted from the reply thread (``bot.slack_api.replies``) over real HTTP:
kept-alive connections, a connection closed while idle replaced without a second post, Slack's
refusals retried (Retry-After honoured), replies to one URL in the order handed over, the handler's
thread never waiting for Slack, and nothing handed over lost when the process stops."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.console.fake_web_api import RESPONSE_URL, FakeSlack
from bot.slack_api import replies
from bot.slack_api.replies import post_to_response_url
from bot.slack_api.web_api import MAX_RETRIES

ARRIVED = 10.0  # seconds a reply may take on a busy machine


class _Hooks(ThreadingHTTPServer):
    """An HTTP/1.1 server that keeps connections open, as hooks.slack.com does."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[dict[str, Any]] = []
        self.connections: set[tuple[str, int]] = set()
        self.answers: list[tuple[int, dict[str, str]]] = []  # answered in turn, then 200
        self.close_after_answer = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/actions/T0/1/secret"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Hooks

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.posts.append(json.loads(self.rfile.read(length)))
        self.server.connections.add(self.client_address)
        status, headers = self.server.answers.pop(0) if self.server.answers else (200, {})
        body = b"ok"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after_answer:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[_Hooks]:
    server = _Hooks()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _arrived(url: str, message: dict[str, Any]) -> bool:
    return post_to_response_url(url, message).result(ARRIVED)


def test_replies_share_one_kept_connection(hooks: _Hooks) -> None:
    for n in range(3):
        assert _arrived(hooks.url, {"text": f"reply {n}"})
    assert [post["text"] for post in hooks.posts] == ["reply 0", "reply 1", "reply 2"]
    assert len(hooks.connections) == 1


def test_a_connection_closed_while_idle_is_replaced_and_the_reply_arrives_once(hooks: _Hooks) -> None:
    hooks.close_after_answer = True  # the server ends each connection after its answer
    for n in range(3):
        assert _arrived(hooks.url, {"text": f"reply {n}"})
    assert [post["text"] for post in hooks.posts] == ["reply 0", "reply 1", "reply 2"]
    assert len(hooks.connections) == 3


def test_a_reply_refused_with_429_or_5xx_is_sent_again_and_arrives(
    hooks: _Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies.random, "random", lambda: 0.0)
    monkeypatch.setattr(replies, "backoff", lambda attempt: 0.0)
    hooks.answers = [(429, {"Retry-After": "0"}), (503, {})]
    assert _arrived(hooks.url, {"text": "logged"})
    assert [post["text"] for post in hooks.posts] == ["logged"] * 3


def test_a_reply_refused_more_often_than_retried_is_reported_not_raised(
    hooks: _Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "backoff", lambda attempt: 0.0)
    hooks.answers = [(500, {})] * (MAX_RETRIES + 1)
    assert not _arrived(hooks.url, {"text": "logged"})
    assert len(hooks.posts) == MAX_RETRIES + 1


def test_a_reply_to_a_host_that_is_gone_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replies, "backoff", lambda attempt: 0.0)
    server = _Hooks()
    url = server.url
    server.server_close()  # nothing listens there any more
    assert not _arrived(url, {"text": "logged"})


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token="xoxb-test") as fake:
        yield fake


def _texts(slack: FakeSlack, response_id: str) -> list[str]:
    return [call.params["text"] for call in slack.replies(response_id)]


def test_the_handler_does_not_wait_for_slack_to_answer(slack: FakeSlack) -> None:
    held = slack.hold_next(RESPONSE_URL)
    began = time.monotonic()
    sent = post_to_response_url(slack.response_url("r1"), {"text": "found"})
    handed_over = time.monotonic() - began
    try:
        assert handed_over < 0.5 and not sent.done()
    finally:
        held.set()
    assert sent.result(ARRIVED)
    assert _texts(slack, "r1") == ["found"]


def test_replies_to_one_url_arrive_in_the_order_handed_over_and_others_do_not_wait(
    slack: FakeSlack,
) -> None:
    held = slack.hold_next(RESPONSE_URL)  # the first reply to r1 waits for Slack
    first = post_to_response_url(slack.response_url("r1"), {"text": "working on it"})
    deadline = time.monotonic() + ARRIVED
    while slack.faults_left(RESPONSE_URL) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the held reply has reached the fake
    second = post_to_response_url(slack.response_url("r1"), {"text": "done", "replace_original": True})
    other = post_to_response_url(slack.response_url("r2"), {"text": "someone else's"})
    try:
        assert other.result(ARRIVED)
        assert not second.done() and _texts(slack, "r1") == []
    finally:
        held.set()
    assert first.result(ARRIVED) and second.result(ARRIVED)
    assert _texts(slack, "r1") == ["working on it", "done"]


def test_a_reply_answered_429_waits_for_retry_after_then_arrives_once(slack: FakeSlack) -> None:
    slack.fail_next(RESPONSE_URL, status=429, retry_after=1)
    began = time.monotonic()
    assert _arrived(slack.response_url("r1"), {"text": "found"})
    assert time.monotonic() - began >= 1.0
    assert [call.status for call in slack.calls_to(RESPONSE_URL)] == [429, 200]
    assert _texts(slack, "r1") == ["found"]


def test_drain_returns_once_every_reply_handed_over_has_arrived(slack: FakeSlack) -> None:
    slack.delay_next(RESPONSE_URL, 0.3, times=3)
    for n in range(3):
        post_to_response_url(slack.response_url(f"r{n}"), {"text": f"reply {n}"})
    assert replies.replies.drain(ARRIVED)
    assert [_texts(slack, f"r{n}") for n in range(3)] == [["reply 0"], ["reply 1"], ["reply 2"]]
    assert _arrived(slack.response_url("r3"), {"text": "after"})  # a drained poster starts again


def test_a_process_stopping_sends_the_replies_handed_over_before_it_ends(slack: FakeSlack) -> None:
    """What ``crm-bot serve`` does at exit: the handlers' last replies go out, however slow Slack is."""
    slack.delay_next(RESPONSE_URL, 0.5, times=2)
    script = textwrap.dedent(
        f"""
        from bot.slack_api.replies import post_to_response_url
        post_to_response_url({slack.response_url("r1")!r}, {{"text": "saved"}})
        post_to_response_url({slack.response_url("r1")!r}, {{"text": "and shared"}})
        raise SystemExit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert _texts(slack, "r1") == ["saved", "and shared"]
