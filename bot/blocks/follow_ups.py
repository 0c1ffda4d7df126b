"""Follow-up lists (``/crm mine``) and the buttons that close or snooze a follow-up."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from bot.blocks.limits import Block, button, cap_blocks, context, escape, header, section
from bot.blocks.text import day
from bot.ids import ActionId
from bot.messages import t
from crm_core.follow_ups.service import FollowUpView

MAX_LISTED = 20


@dataclass(frozen=True)
class FollowUpButton:
    """What a follow-up button carries: the follow-up, and the profile card it sits on, if any.

    After a click the message it came from is redrawn: the card when ``customer`` is set, else the
    list of the user's follow-ups.
    """

    follow_up_id: int
    customer: str | None = None

    def encode(self) -> str:
        return json.dumps({"id": self.follow_up_id, "customer": self.customer})

    @classmethod
    def decode(cls, value: str) -> FollowUpButton:
        data = json.loads(value)
        return cls(int(data["id"]), data.get("customer"))


def due_label(due_on: dt.date, today: dt.date, language: str) -> str:
    """The due date in bold, flagged when overdue or due today, so the eye goes there first."""
    if due_on < today:
        return t(language, "follow_up.overdue", due=day(due_on), days=(today - due_on).days)
    if due_on == today:
        return t(language, "follow_up.due_today", due=day(due_on))
    return f"*{day(due_on)}*"


def render_my_follow_ups(follow_ups: list[FollowUpView], *, language: str, today: dt.date) -> list[Block]:
    """The user's open follow-ups, overdue first, each with Done and Snooze buttons."""
    if not follow_ups:
        return [section(t(language, "mine.empty"))]
    blocks: list[Block] = [header(t(language, "mine.title", count=len(follow_ups)))]
    for follow_up in follow_ups[:MAX_LISTED]:
        value = FollowUpButton(follow_up.id).encode()
        note = f" — {escape(follow_up.note)}" if follow_up.note else ""
        label = due_label(follow_up.due_on, today, language)
        blocks.append(section(f"{label} *{escape(follow_up.customer_name)}*{note}"))
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    button(t(language, "button.done"), ActionId.MARK_DONE, value, style="primary"),
                    button(t(language, "button.snooze_day"), ActionId.SNOOZE_DAY, value),
                    button(t(language, "button.snooze_week"), ActionId.SNOOZE_WEEK, value),
                    button(t(language, "button.open"), ActionId.OPEN_PROFILE, follow_up.customer_external_id),
                ],
            }
        )
    if len(follow_ups) > MAX_LISTED:
        blocks.append(context(t(language, "mine.more", count=len(follow_ups) - MAX_LISTED)))
    return cap_blocks(blocks, t(language, "blocks.truncated"))
