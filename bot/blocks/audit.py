"""``/crm admin audit <customer>``: the customer's audit trail as a compact list, oldest first.

One line per event (when, who, through which surface, what, and whether it was refused), packed
into as few sections as Slack's text limit allows, so even the longest trail stays a handful of
blocks. Only ids and action names are shown: the trail holds no personal data to show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.blocks.limits import MAX_TEXT, Block, cap_blocks, context, escape, header, section
from bot.blocks.text import mention
from bot.messages import t
from crm_core.read_models.audit_trail import AuditEntry


def render_audit(
    customer_name: str, entries: Sequence[AuditEntry], *, language: str, timezone: ZoneInfo
) -> list[Block]:
    blocks: list[Block] = [header(t(language, "audit.title", customer=customer_name))]
    if not entries:
        return [*blocks, context(t(language, "audit.empty"))]
    lines = [_line(entry, language, timezone) for entry in entries]
    blocks.extend(section("\n".join(chunk)) for chunk in _chunks(lines, MAX_TEXT))
    blocks.append(context(t(language, "audit.times", timezone=timezone.key)))
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def _line(entry: AuditEntry, language: str, timezone: ZoneInfo) -> str:
    when = entry.occurred_at.replace(tzinfo=dt.UTC).astimezone(timezone).strftime("%Y-%m-%d %H:%M")
    refused = "" if entry.allowed else f" · :no_entry: {t(language, 'audit.refused')}"
    return f"`{when}` {mention(entry.actor)} · {escape(entry.surface)} · `{escape(entry.action)}`{refused}"


def _chunks(lines: Sequence[str], limit: int) -> list[list[str]]:
    """``lines`` grouped so that each group, joined by newlines, fits in ``limit`` characters."""
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if chunks[-1] and size + 1 + len(line) > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + (1 if len(chunks[-1]) > 1 else 0)
    return chunks
