"""Replies to response URLs: one kept-alive connection per thread, a connection closed while idle
replaced without a second post, and Slack's refusals retried as before."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.slack_api import web_api


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


def test_replies_from_one_thread_share_one_connection(hooks: _Hooks) -> None:
    for n in range(3):
        assert web_api.post_to_response_url(hooks.url, {"text": f"reply {n}"})
    assert [post["text"] for post in hooks.posts] == ["reply 0", "reply 1", "reply 2"]
    assert len(hooks.connections) == 1


def test_a_connection_closed_while_idle_is_replaced_and_the_reply_arrives_once(hooks: _Hooks) -> None:
    hooks.close_after_answer = True  # the server ends each connection after its answer
    for n in range(3):
        assert web_api.post_to_response_url(hooks.url, {"text": f"reply {n}"})
    assert [post["text"] for post in hooks.posts] == ["reply 0", "reply 1", "reply 2"]
    assert len(hooks.connections) == 3


def test_a_reply_refused_with_429_or_5xx_is_sent_again_and_arrives(
    hooks: _Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_api.random, "random", lambda: 0.0)
    monkeypatch.setattr(web_api, "_backoff", lambda attempt: 0.0)
    hooks.answers = [(429, {"Retry-After": "0"}), (503, {})]
    assert web_api.post_to_response_url(hooks.url, {"text": "logged"})
    assert [post["text"] for post in hooks.posts] == ["logged"] * 3


def test_a_reply_refused_more_often_than_retried_is_reported_not_raised(
    hooks: _Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_api, "_backoff", lambda attempt: 0.0)
    hooks.answers = [(500, {})] * (web_api.MAX_RETRIES + 1)
    assert not web_api.post_to_response_url(hooks.url, {"text": "logged"})
    assert len(hooks.posts) == web_api.MAX_RETRIES + 1


def test_a_reply_to_a_host_that_is_gone_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_api, "_backoff", lambda attempt: 0.0)
    server = _Hooks()
    url = server.url
    server.server_close()  # nothing listens there any more
    assert not web_api.post_to_response_url(url, {"text": "logged"})
