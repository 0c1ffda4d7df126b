"""What a ``/crm log``, ``/crm followup`` or ``@crm log`` was about to do when its customer was unclear.

The candidate list answers such a command with one button per customer; each button carries the
command's pending action, so picking a candidate finishes it and nothing is typed twice. A button's
``value`` holds at most 2,000 characters (``MAX_ACTION_VALUE``): an action that does not fit (a very
long summary or note) is not cut. Its candidates open the form for that customer instead, and the
list quotes the text in full to paste into it (``bot.blocks.customers.render_candidates``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bot.blocks.limits import MAX_ACTION_VALUE
from bot.parsing.grammar import UsageError

LOG, FOLLOW_UP, THREAD = "log", "followup", "thread"


@dataclass(frozen=True)
class PendingAction:
    """``action`` is LOG (``kind``, ``text`` the summary), FOLLOW_UP (``due_on``, ``text`` the note) or
    THREAD (the thread at ``channel`` / ``thread_ts``, read again when a customer is picked)."""

    action: str
    kind: str = ""
    text: str = ""
    due_on: dt.date | None = None
    channel: str = ""
    thread_ts: str = ""

    def value_for(self, customer_external_id: str) -> str | None:
        """The button value that finishes this action with that customer; None when it would not fit."""
        data: dict[str, Any] = {"customer": customer_external_id, "do": self.action}
        if self.action == LOG:
            data |= {"kind": self.kind, "text": self.text}
        elif self.action == FOLLOW_UP:
            data |= {"due_on": self.due_on.isoformat() if self.due_on else "", "text": self.text}
        else:
            data |= {"channel": self.channel, "thread_ts": self.thread_ts}
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return value if len(value) <= MAX_ACTION_VALUE else None

    @classmethod
    def decode(cls, value: str) -> tuple[str, PendingAction]:
        """The customer picked and the action to finish, from a value ``value_for`` made; anything else
        is input crm-bot did not write (``usage.stale_input``)."""
        try:
            data = json.loads(value)
            due_on = data.get("due_on")
            action = cls(
                action=str(data["do"]),
                kind=str(data.get("kind", "")),
                text=str(data.get("text", "")),
                due_on=dt.date.fromisoformat(due_on) if due_on else None,
                channel=str(data.get("channel", "")),
                thread_ts=str(data.get("thread_ts", "")),
            )
            return str(data["customer"]), action
        except (ValueError, TypeError, KeyError, AttributeError):
            raise UsageError("usage.stale_input") from None
