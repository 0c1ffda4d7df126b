"""Block Kit as readable plain text, for places without Slack: ``crm-bot digest --print``, the console.

mrkdwn is simplified the way a reader expects: ``*bold*`` loses its stars, ``<url|label>`` becomes
``label (url)``, ``<@U123>`` becomes ``@U123``, and Slack's escapes are undone. Buttons become a
line of ``[label]``s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.parsing.command_text import unescape

# Only what Slack turns into mentions and links; other text in angle brackets stays as it is.
_TOKEN = re.compile(r"<([@#!][^<>|]*|(?:https?|mailto|tel):[^<>|]*)(?:\|([^<>]*))?>")
_PLAIN_SCHEMES = ("mailto:", "tel:")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_EMOJI = re.compile(r":[a-z0-9_+-]+:\s?")

ButtonLabel = Callable[[str, Mapping[str, Any]], str]
"""How a button is shown, from its label and the element itself (the console numbers them)."""


def slack_to_plain(text: str) -> str:
    """Slack's ``<…>`` tokens (mentions, channels, links) spelled out and its escaping undone.

    People's own words keep their stars and emoji codes: this is how a logged thread is stored.
    """
    return unescape(_TOKEN.sub(_spelled_out, text))


def _spelled_out(token: re.Match[str]) -> str:
    target, label = token.group(1), token.group(2)
    if target[:1] in ("@", "#"):
        return target[0] + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@support>, <!date^…|fallback>
        return label or f"@{target[1:]}"
    if label is None or label == target:
        return target.removeprefix("mailto:")
    if target.startswith(_PLAIN_SCHEMES):
        return label
    return f"{label} ({target})"


def mrkdwn_to_text(text: str) -> str:
    return _EMOJI.sub("", _BOLD.sub(r"\1", slack_to_plain(text)))


def element_text(element: Mapping[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, Mapping):
        return mrkdwn_to_text(str(text.get("text", "")))
    return mrkdwn_to_text(str(text or ""))


def bracketed(label: str, _element: Mapping[str, Any]) -> str:
    return f"[{label}]"


def blocks_to_text(blocks: Sequence[Mapping[str, Any]], *, button_label: ButtonLabel = bracketed) -> str:
    """One paragraph per block; ``button_label`` shows each button, in the order they appear."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = element_text(block)
            lines.extend(["", title, "=" * min(len(title) * 2, 60)])
        elif kind == "section":
            lines.append(element_text(block))
            lines.extend(element_text(f) for f in block.get("fields", ()))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append("  " + button_label(element_text(accessory), accessory))
        elif kind == "context":
            lines.append("  " + "  ".join(element_text(e) for e in block.get("elements", ())))
        elif kind == "actions":
            labels = [
                button_label(element_text(e), e)
                for e in block.get("elements", ())
                if e.get("type") == "button"
            ]
            lines.append("  " + " ".join(labels))
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines).strip("\n")
