"""The App Home tab: the viewer's open follow-ups (overdue first) and the customers they touched last.

The follow-ups are the same list, with the same Done and Snooze buttons, as ``/crm mine``; on Home a
click re-publishes the whole tab instead of redrawing a message (see ``bot.listeners.actions``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.blocks.customers import customer_row
from bot.blocks.follow_ups import render_my_follow_ups
from bot.blocks.limits import MAX_VIEW_BLOCKS, Block, cap_blocks, context, header, section
from bot.blocks.text import day
from bot.messages import t
from crm_core.follow_ups.service import FollowUpView
from crm_core.interactions.service import TouchedCustomer


def render_home(
    follow_ups: list[FollowUpView],
    touched: Sequence[TouchedCustomer],
    *,
    language: str,
    today: dt.date,
) -> Block:
    recent = [
        customer_row(
            item.customer, language, t(language, "home.last_touched", date=day(item.last_touched_at))
        )
        for item in touched
    ]
    blocks = [
        context(t(language, "home.hint")),
        *render_my_follow_ups(follow_ups, language=language, today=today),
        {"type": "divider"},
        header(t(language, "home.recent")),
        *(recent or [context(t(language, "home.no_recent"))]),
    ]
    return {"type": "home", "blocks": cap_blocks(blocks, t(language, "blocks.truncated"), MAX_VIEW_BLOCKS)}


def render_refusal_home(message: str) -> Block:
    """The Home tab of someone who may not use crm-bot: only why, in their language."""
    return {"type": "home", "blocks": [section(message)]}
