"""Hypothesis against the HTTP edge: random headers, timestamps, content types and bodies, signed or not.

Whatever arrives, the served app never answers 5xx and logs no traceback; a request whose
signature did not verify makes no Web API call and no POST to a response URL. Signed bodies are
random too, and mutations of the replay corpus (a field removed, or replaced by any JSON), which is
how a listener meets shapes Slack never sends. Example counts stay small: this runs in CI.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.console.fake_web_api import FakeSlack
from bot.transport.http_server import HttpServer
from bot.transport.listener_pool import ListenerPool
from tests.bot.conftest import SIGNING_SECRET
from tests.bot.harness import sign
from tests.bot.test_http import unsigned_post
from tests.bot.test_replay_corpus import load, payload_names

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "",
    ]
)


@st.composite
def corpus_mutations(draw: st.DrawFn) -> bytes:
    """A corpus payload with one field, at any depth, removed or replaced by arbitrary JSON."""
    document = load(draw(st.sampled_from(payload_names())))
    body = json.loads(json.dumps(document["body"]).replace("{response_url}", "http://127.0.0.1:9/response/x"))
    node, key = body, None
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        parent, node = node, node[key]
    if key is not None:
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = draw(json_values)
    if document["_sent_as"] == "json":
        return json.dumps(body).encode()
    if document["_sent_as"] == "payload":
        return urlencode({"payload": json.dumps(body)}).encode()
    return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: urlencode({"payload": json.dumps(value)}).encode()),
    st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=6).map(
        lambda f: urlencode(f).encode()
    ),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    corpus_mutations(),
)
timestamps = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=14),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.integers(min_value=-400, max_value=400).map(lambda offset: str(int(time.time()) + offset)),
)
signatures = st.one_of(
    st.none(),
    st.text(alphabet="v0=abcdef0123456789", max_size=70),
    st.binary(min_size=32, max_size=32).map(lambda raw: "v0=" + raw.hex()),
)


def is_ssl_check(body: bytes) -> bool:
    """Slack's unsigned probe: answered 200 before any signature, and nothing runs."""
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


@dataclass
class Edge:
    """The served app, its fake Slack and what it logged: sending waits until the listeners are idle."""

    server: HttpServer
    slack: FakeSlack
    listeners: ListenerPool
    logs: pytest.LogCaptureFixture

    def send(self, body: bytes, headers: dict[str, str]) -> int:
        status = unsigned_post(self.server, body, headers)
        assert self.listeners.settle(30)
        return status

    def tracebacks(self) -> list[logging.LogRecord]:
        return [r for r in self.logs.records if r.exc_info or "Traceback" in r.getMessage()]


@pytest.fixture
def edge(
    server: HttpServer, slack: FakeSlack, listeners: ListenerPool, caplog: pytest.LogCaptureFixture
) -> Edge:
    caplog.set_level(logging.INFO)
    return Edge(server, slack, listeners, caplog)


@FUZZ
@given(body=bodies, content_type=CONTENT_TYPES, timestamp=timestamps, signature=signatures)
def test_an_unsigned_request_is_refused_and_never_reaches_slack(
    edge: Edge, body: bytes, content_type: str, timestamp: str, signature: str | None
) -> None:
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    status = edge.send(body, headers)
    assert status == (200 if is_ssl_check(body) else 401)
    assert [c.method for c in edge.slack.calls] == ["auth.test"]
    assert edge.tracebacks() == [] and not [r for r in edge.logs.records if r.levelno >= logging.ERROR]


@FUZZ
@given(body=bodies, content_type=CONTENT_TYPES, retry=st.sampled_from([None, "0", "1", "x"]))
def test_a_signed_request_of_any_shape_gets_no_5xx_and_no_traceback(
    edge: Edge, body: bytes, content_type: str, retry: str | None
) -> None:
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SIGNING_SECRET, stamp, body),
    }
    if retry is not None:
        headers["X-Slack-Retry-Num"] = retry
    assert edge.send(body, headers) < 500, body[:300]
    assert edge.tracebacks() == [], body[:300]
