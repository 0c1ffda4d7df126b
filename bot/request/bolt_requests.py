"""From a verified request's bytes to Bolt's request, or the reason it cannot be read.

Bolt parses a body (JSON, a form, or a form with a JSON ``payload``) and reads who, where and
which workspace from it as soon as its request object is built; on a body that is not UTF-8, not
JSON, JSON but not an object, or an object of the wrong shape that raises and the server answered
500 with a traceback. Here the same parsing runs inside one guard, so a signed body Bolt cannot read
is a 400 with a reason. Bodies nested deeper than any of Slack's are refused too: Bolt deep-copies
each request for its lazy listeners, and a copy of thousands of levels overflows the stack there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import (
    build_context,
    build_normalized_headers,
    extract_content_type,
    parse_body,
)

# A modal's state (view → state → values → block → action → selected_options → option → text) is
# about ten levels deep; rich-text blocks in a message event reach about fifteen.
MAX_DEPTH = 64

# Bolt's context key saying this request passed ``bot.transport.signature`` (Socket Mode requests
# come over the authenticated WebSocket instead and carry Bolt's mode "socket_mode").
SIGNATURE_VERIFIED = "crm_signature_verified"


class SlackRequest(BoltRequest):
    """Bolt's request, with a form body read as Slack means it.

    Bolt takes any form body that merely *contains* the letters "payload" for an interaction and
    reads its ``payload`` field, so ``/crm find payload`` (or a summary mentioning a payload) came
    out as an empty request that nothing answered. Here a form is an interaction only when it has a
    ``payload`` field. The raw body stays as it came, for Bolt's own signature check.
    """

    def __init__(self, *, body: str, query: Any, headers: Any, context: Mapping[str, Any]) -> None:
        super().__init__(body=body, query=query, headers=headers, context=dict(context))
        form = _form_without_payload(body, self.content_type)
        if form is not None:
            self.body = form
            self.context = build_context(BoltContext(dict(context)), self.body)

    def to_copyable(self) -> SlackRequest:  # Bolt copies a request for each lazy listener
        return SlackRequest(
            body=self.raw_body, query=self.query, headers=self.headers, context=self.context.to_copyable()
        )


def _form_without_payload(body: str, content_type: str | None) -> dict[str, str] | None:
    """A form body that Bolt would misread as an interaction, as the form it is; else None."""
    if content_type == "application/json" or body.startswith("{") or "payload" not in body:
        return None
    fields = dict(parse_qsl(body, keep_blank_values=True))
    return None if "payload" in fields else fields


class Unreadable(ValueError):
    """A signed body Bolt cannot turn into a request; the message is the reason for the log."""


def bolt_request(body: bytes, *, query: str, headers: Mapping[str, str | Sequence[str]]) -> BoltRequest:
    """Bolt's request for a body whose signature was verified; ``Unreadable`` if it cannot be read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8") from None
    try:
        request = SlackRequest(
            body=text, query=query, headers=dict(headers), context={SIGNATURE_VERIFIED: True}
        )
    except RecursionError:
        raise Unreadable(f"nested deeper than {MAX_DEPTH} levels") from None
    except Exception as error:  # any failure to parse or to read the context is the body's shape
        raise Unreadable(_why(text, request_headers=headers, error=error)) from None
    if depth(request.body) > MAX_DEPTH:
        raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
    return request


def _why(text: str, *, request_headers: Mapping[str, str | Sequence[str]], error: Exception) -> str:
    """What was wrong with a body Bolt failed on, for the log line (parsed again: this is rare)."""
    try:
        parsed = parse_body(text, extract_content_type(build_normalized_headers(dict(request_headers))))
    except ValueError:
        return "not JSON, nor a form with a JSON payload"
    if not isinstance(parsed, dict):
        return f"a JSON {type(parsed).__name__} instead of an object"
    return f"{type(error).__name__} reading Slack's fields"


def depth(value: Any) -> int:
    """How deeply lists and objects nest in parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((child, level + 1) for child in item)
    return deepest
