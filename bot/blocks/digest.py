"""The daily digest as Block Kit: most urgent first, each item with the buttons to act on it.

A digest never exceeds Slack's 50 blocks: items are added in order of urgency while room is left,
and the rest is counted in an "and N more" line pointing to ``/crm mine`` and the App Home tab.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from bot.blocks.churn import churn_reason_text
from bot.blocks.follow_ups import FollowUpButton, follow_up_buttons
from bot.blocks.limits import MAX_MESSAGE_BLOCKS, Block, button, context, escape, header, section
from bot.blocks.text import day, mention
from bot.ids import ActionId
from bot.messages import has_message, t
from crm_core.digest.content import ITEMS_PER_SECTION, Digest, FollowUpItem, KpiLine, RiskItem

# Room kept for the closing "and N more" line.
_RESERVED = 1
# Items shown per section at most, so that a long overdue list cannot crowd out the churn risks:
# 10 + 5 follow-ups (2 blocks each) and 8 + 3 customers (1 block each) fit 50 blocks with the titles.
# The digest carries no more than these (its content is built for this layout).
_SHOWN = {
    "digest.overdue": ITEMS_PER_SECTION.overdue,
    "digest.due_today": ITEMS_PER_SECTION.due_today,
    "digest.new_risks": ITEMS_PER_SECTION.new_risks,
    "digest.reactivated": ITEMS_PER_SECTION.reactivated,
}
Item = TypeVar("Item", FollowUpItem, RiskItem)


def render_digest(digest: Digest, *, language: str) -> list[Block]:
    title = t(language, f"digest.title.{digest.scope}", date=day(digest.local_date))
    blocks: list[Block] = [header(title)]
    if digest.kpis is not None:
        blocks.append(context(kpi_line(digest.kpis, language)))
    if digest.is_empty:
        blocks.append(section(t(language, "digest.all_clear")))
        return blocks
    counts = digest.counts
    follow_up_blocks = partial(_follow_up_blocks, today=digest.local_date)
    left_out = (
        _add_section(blocks, "digest.overdue", digest.overdue, counts.overdue, follow_up_blocks, language)
        + _add_section(
            blocks, "digest.due_today", digest.due_today, counts.due_today, follow_up_blocks, language
        )
        + _add_section(blocks, "digest.new_risks", digest.new_risks, counts.new_risks, _risk_blocks, language)
        + _add_section(
            blocks, "digest.reactivated", digest.reactivated, counts.reactivated, _risk_blocks, language
        )
    )
    if left_out:
        blocks.append(context(t(language, "digest.more", count=left_out)))
    return blocks


def digest_fallback(digest: Digest, *, language: str) -> str:
    """The notification text: what shows in the push notification and in clients without blocks."""
    counts = digest.counts
    return t(
        language,
        "digest.fallback",
        date=day(digest.local_date),
        overdue=counts.overdue,
        due_today=counts.due_today,
        risks=counts.new_risks,
    )


def _add_section(
    blocks: list[Block],
    title_key: str,
    items: Sequence[Item],
    total: int,
    render_item: Callable[[Item, str], list[Block]],
    language: str,
) -> int:
    """Append a titled section with as many items as fit; return how many of its ``total`` did not."""
    if not total:
        return 0
    room = MAX_MESSAGE_BLOCKS - _RESERVED - len(blocks) - 1
    rendered = 0
    item_blocks: list[Block] = []
    for item in items[: _SHOWN[title_key]]:
        next_blocks = render_item(item, language)
        if len(item_blocks) + len(next_blocks) > room:
            break
        item_blocks.extend(next_blocks)
        rendered += 1
    if rendered:
        blocks.append(section(t(language, title_key, count=total)))
        blocks.extend(item_blocks)
    return total - rendered


def _vip(vip: bool, language: str) -> str:
    return t(language, "digest.vip") if vip else ""


def _follow_up_blocks(item: FollowUpItem, language: str, *, today: dt.date) -> list[Block]:
    target = FollowUpButton(item.follow_up_id, in_digest=True)
    line = t(
        language,
        "digest.follow_up_line",
        vip=_vip(item.vip, language),
        customer=escape(item.customer_name),
        owner=mention(item.owner_id),
        due=day(item.due_on),
        note=f" — {escape(item.note)}" if item.note else "",
    )
    buttons = follow_up_buttons(
        language, target, customer_external_id=item.customer_external_id, due_on=item.due_on, today=today
    )
    reassign = button(t(language, "button.reassign"), ActionId.REASSIGN, target.encode())
    return [section(line), {"type": "actions", "elements": [*buttons, reassign]}]


def _risk_blocks(item: RiskItem, language: str) -> list[Block]:
    line = t(
        language,
        "digest.risk_line",
        vip=_vip(item.vip, language),
        customer=escape(item.customer_name),
        owner=mention(item.owner_id),
    )
    step_key = f"next_step.{item.next_step_key}"
    step = t(language, step_key) if has_message(step_key) else escape(item.next_step)
    details = [churn_reason_text(item.reason, language)] if item.reason else []
    details += [t(language, "digest.next_step", step=step)] if step else []
    text = "\n".join([line, *details])
    return [
        {
            **section(text),
            "accessory": button(t(language, "button.open"), ActionId.OPEN_PROFILE, item.customer_external_id),
        }
    ]


def kpi_line(kpis: KpiLine, language: str) -> str:
    def rate(value: float | None) -> str:
        return t(language, "digest.no_rate") if value is None else f"{value:.0%}"

    return t(
        language,
        "digest.kpis",
        active=kpis.active[0],
        active_before=kpis.active[1],
        at_risk=kpis.at_risk[0],
        at_risk_before=kpis.at_risk[1],
        churned=kpis.churned[0],
        churned_before=kpis.churned[1],
        reactivated=kpis.reactivated[0],
        reactivated_before=kpis.reactivated[1],
        retention=rate(kpis.retention_rate[0]),
        retention_before=rate(kpis.retention_rate[1]),
        on_time=rate(kpis.follow_ups_on_time_rate[0]),
        on_time_before=rate(kpis.follow_ups_on_time_rate[1]),
    )
