"""The audit list stays a few blocks however long the trail, and shows refusals and odd ids inertly."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.blocks.audit import render_audit
from bot.blocks.limits import block_problems
from crm_core.read_models.audit_trail import AuditEntry
from tests.bot.harness import texts

AT = dt.datetime(2026, 3, 4, 9, 0)


def entry(actor: str = "U0SALES", *, allowed: bool = True, action: str = "customer.read") -> AuditEntry:
    return AuditEntry(AT, actor, "slack", action, 1, "cus_1", allowed)


def test_a_long_trail_fits_in_a_few_blocks_in_the_viewers_time_zone() -> None:
    blocks = render_audit("Acme", [entry()] * 100, language="en", timezone=ZoneInfo("Asia/Tokyo"))
    assert not block_problems(blocks) and len(blocks) <= 6
    text = "\n".join(texts(blocks))
    assert text.count("`2026-03-04 18:00` <@U0SALES> · slack · `customer.read`") == 100
    assert "times in Asia/Tokyo" in text


def test_refusals_are_marked_and_nothing_in_an_entry_can_ping() -> None:
    blocks = render_audit(
        "<!channel>",
        [entry("cli:<!here>", allowed=False, action="<!channel>")],
        language="ja",
        timezone=ZoneInfo("UTC"),
    )
    text = "\n".join(texts(blocks))
    assert ":no_entry: 拒否" in text
    assert "<!" not in "\n".join(texts(blocks, "mrkdwn"))


def test_an_empty_trail_says_so() -> None:
    blocks = render_audit("Acme", [], language="en", timezone=ZoneInfo("UTC"))
    assert "Nothing recorded about this customer yet." in texts(blocks)
