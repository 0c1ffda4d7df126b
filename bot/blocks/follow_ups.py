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
    """What a follow-up button carries: the follow-up, and what it sits on.

    After a click the message it came from is redrawn: the profile card when ``customer`` is set,
    else the list of the user's follow-ups; a digest (``in_digest``) is left as it was sent and the
    click is only confirmed.
    """

    follow_up_id: int
    customer: str | None = None
    in_digest: bool = False

    def encode(self) -> str:
        data: dict[str, object] = {"id": self.follow_up_id, "customer": self.customer}
        if self.in_digest:
            data["digest"] = True
        return json.dumps(data)

    @classmethod
    def decode(cls, value: str) -> FollowUpButton:
        data = json.loads(value)
        return cls(int(data["id"]), data.get("customer"), bool(data.get("digest")))


def follow_up_buttons(language: str, target: FollowUpButton, *, customer_external_id: str) -> list[Block]:
    """Done, Snooze 1 day, Snooze 1 week and Open: the same four wherever a follow-up is listed."""
    value = target.encode()
    return [
        button(t(language, "button.done"), ActionId.MARK_DONE, value, style="primary"),
        button(t(language, "button.snooze_day"), ActionId.SNOOZE_DAY, value),
        button(t(language, "button.snooze_week"), ActionId.SNOOZE_WEEK, value),
        button(t(language, "button.open"), ActionId.OPEN_PROFILE, customer_external_id),
    ]


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
        note = f" — {escape(follow_up.note)}" if follow_up.note else ""
        label = due_label(follow_up.due_on, today, language)
        blocks.append(section(f"{label} *{escape(follow_up.customer_name)}*{note}"))
        buttons = follow_up_buttons(
            language, FollowUpButton(follow_up.id), customer_external_id=follow_up.customer_external_id
        )
        blocks.append({"type": "actions", "elements": buttons})
    if len(follow_ups) > MAX_LISTED:
        blocks.append(context(t(language, "mine.more", count=len(follow_ups) - MAX_LISTED)))
    return cap_blocks(blocks, t(language, "blocks.truncated"))
