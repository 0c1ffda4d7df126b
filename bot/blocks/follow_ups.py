"""Follow-up lists (``/crm mine``) and the buttons that close or snooze a follow-up."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from bot.blocks.limits import Block, button, cap_blocks, context, escape, header, section
from bot.blocks.text import day
from bot.ids import ActionId
from bot.messages import t
from bot.parsing.grammar import UsageError
from crm_core.follow_ups.service import FollowUpView, snoozed_until

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
        """A value ``encode`` made; anything else is input crm-bot did not write (``usage.stale_input``)."""
        try:
            data = json.loads(value)
            return cls(int(data["id"]), data.get("customer"), bool(data.get("digest")))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise UsageError("usage.stale_input") from None


SNOOZE_DAYS: dict[ActionId, int] = {ActionId.SNOOZE_DAY: 1, ActionId.SNOOZE_WEEK: 7}
"""How far each snooze button moves a follow-up (``crm_core.follow_ups.service.snoozed_until``)."""


def follow_up_buttons(
    language: str, target: FollowUpButton, *, customer_external_id: str, due_on: dt.date, today: dt.date
) -> list[Block]:
    """Done, two snoozes and Open: the same four wherever a follow-up is listed.

    A snooze button names the day it moves the follow-up to ("Snooze to Fri 2026-12-11"): a day
    after the due date for one still ahead, after today for one overdue, so nobody has to guess
    which. The click works the day out again from the follow-up as it is then, and says it.
    """
    value = target.encode()
    snoozes = [
        button(snooze_label(language, snoozed_until(due_on, today=today, days=days)), action_id, value)
        for action_id, days in SNOOZE_DAYS.items()
    ]
    return [
        button(t(language, "button.done"), ActionId.MARK_DONE, value, style="primary"),
        *snoozes,
        button(t(language, "button.open"), ActionId.OPEN_PROFILE, customer_external_id),
    ]


def snooze_label(language: str, until: dt.date) -> str:
    """ "Snooze to Fri 2026-12-11": the weekday is what people plan by, the ISO date is unambiguous."""
    return t(language, "button.snooze_to", weekday=t(language, f"weekday.{until.weekday()}"), due=day(until))


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
            language,
            FollowUpButton(follow_up.id),
            customer_external_id=follow_up.customer_external_id,
            due_on=follow_up.due_on,
            today=today,
        )
        blocks.append({"type": "actions", "elements": buttons})
    if len(follow_ups) > MAX_LISTED:
        blocks.append(context(t(language, "mine.more", count=len(follow_ups) - MAX_LISTED)))
    return cap_blocks(blocks, t(language, "blocks.truncated"))
