"""Block Kit as readable plain text, for places without Slack: ``crm-bot digest --print``, the console.

mrkdwn is simplified the way a reader expects: ``*bold*`` loses its stars, ``<url|label>`` becomes
``label (url)``, ``<@U123>`` becomes ``@U123``, and Slack's escapes are undone. Buttons become a
line of ``[label]``s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.limits import unescape

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^>]+)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_EMOJI = re.compile(r":[a-z0-9_+-]+:\s?")


def mrkdwn_to_text(text: str) -> str:
    text = _LINK.sub(r"\2 (\1)", text)
    text = _BARE_LINK.sub(r"\1", text)
    text = _MENTION.sub(r"@\1", text)
    text = _BOLD.sub(r"\1", text)
    text = _EMOJI.sub("", text)
    return unescape(text)


def element_text(element: Mapping[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, Mapping):
        return mrkdwn_to_text(str(text.get("text", "")))
    return mrkdwn_to_text(str(text or ""))


def blocks_to_text(blocks: Sequence[Mapping[str, Any]], *, button_label: str = "[{label}]") -> str:
    """One paragraph per block; ``button_label`` formats each button (the console numbers them)."""
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
                lines.append("  " + button_label.format(label=element_text(accessory), element=accessory))
        elif kind == "context":
            lines.append("  " + "  ".join(element_text(e) for e in block.get("elements", ())))
        elif kind == "actions":
            labels = [
                button_label.format(label=element_text(e), element=e)
                for e in block.get("elements", ())
                if e.get("type") == "button"
            ]
            lines.append("  " + " ".join(labels))
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines).strip("\n")
