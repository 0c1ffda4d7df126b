"""Block Kit limits and safe text, shared by every renderer (and checked by the fake Slack).

Slack rejects a whole message when one block breaks a limit, so renderers clip each text and cap
the number of blocks rather than hope the data is small. User-typed text is escaped for mrkdwn so
that a customer named ``<!channel>`` is shown, not obeyed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Block = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_ACTION_VALUE = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_OPTION_TEXT = 75
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Make user text inert in mrkdwn: no mentions, links or broadcasts can be smuggled in."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marking the cut so nobody mistakes it for the whole."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def mrkdwn(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def plain(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def button(text: str, action_id: str, value: str = "", *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value[:MAX_ACTION_VALUE],
    }
    if style:
        element["style"] = style
    return element


def cap_blocks(blocks: Sequence[Block], overflow_notice: str, limit: int = MAX_MESSAGE_BLOCKS) -> list[Block]:
    """At most ``limit`` blocks; when some are dropped, the last block says so."""
    if len(blocks) <= limit:
        return list(blocks)
    return [*blocks[: limit - 1], context(overflow_notice)]


def block_problems(blocks: Sequence[Mapping[str, Any]], *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """What Slack would reject in ``blocks`` (empty when they are within the limits we rely on)."""
    problems = [f"{len(blocks)} blocks, more than {max_blocks}"] if len(blocks) > max_blocks else []
    for index, block in enumerate(blocks):
        problems.extend(f"block {index}: {problem}" for problem in _problems_in(block))
    return problems


def _problems_in(block: Mapping[str, Any]) -> Iterator[str]:
    kind = block.get("type")
    limit = MAX_HEADER_TEXT if kind == "header" else MAX_TEXT
    if "text" in block and len(block["text"].get("text", "")) > limit:
        yield f"{kind} text longer than {limit}"
    fields = block.get("fields", ())
    if len(fields) > MAX_FIELDS:
        yield f"{len(fields)} fields, more than {MAX_FIELDS}"
    if any(len(f.get("text", "")) > MAX_FIELD_TEXT for f in fields):
        yield f"a field longer than {MAX_FIELD_TEXT}"
    elements = [*block.get("elements", ()), *([block["accessory"]] if "accessory" in block else [])]
    if kind == "context" and len(elements) > MAX_CONTEXT_ELEMENTS:
        yield f"{len(elements)} context elements, more than {MAX_CONTEXT_ELEMENTS}"
    for element in elements:
        if element.get("type") == "button" and len(element["text"]["text"]) > MAX_BUTTON_TEXT:
            yield f"button text longer than {MAX_BUTTON_TEXT}"
        if len(element.get("value", "")) > MAX_ACTION_VALUE:
            yield f"action value longer than {MAX_ACTION_VALUE}"
        if element.get("type") in ("mrkdwn", "plain_text") and len(element.get("text", "")) > MAX_TEXT:
            yield f"context text longer than {MAX_TEXT}"
