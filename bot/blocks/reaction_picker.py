"""The direct message that asks which customer a message reacted to with the log emoji is about.

Sent when the message and its thread name no customer, or several: one button per customer named,
and a picker (the forgiving search) for anyone else. Where the message is travels in the actions
block's id and in each button's value, so a click needs nothing but itself to log the right thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.limits import Block, button, plain, section
from bot.ids import ActionId
from bot.messages import t
from crm_core.customer_view import CustomerView

MAX_CANDIDATES = 5  # buttons; anyone else is one search away in the picker
_LOCATION_PREFIX = "reaction.log:"


def render_reaction_picker(
    candidates: Sequence[CustomerView], *, channel: str, thread_ts: str, permalink: str, language: str
) -> list[Block]:
    key = "reaction.pick_several" if candidates else "reaction.pick_none"
    elements: list[Block] = [
        button(
            t(language, "reaction.pick_button", customer=c.name),
            ActionId.LOG_REACTED_TO,
            f"{channel}:{thread_ts}:{c.external_id}",
        )
        for c in candidates[:MAX_CANDIDATES]
    ]
    elements.append(
        {
            "type": "external_select",
            "action_id": ActionId.PICK_REACTED_TO,
            "placeholder": plain(t(language, "reaction.pick_placeholder")),
            "min_query_length": 1,
        }
    )
    return [
        section(t(language, key, link=permalink)),
        {"type": "actions", "block_id": f"{_LOCATION_PREFIX}{channel}:{thread_ts}", "elements": elements},
    ]


def picked(action: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """Channel, thread ts and customer external id of a click on the picker; None for anything else.

    A button carries all three in its value; the picker's choice is the customer, and the block
    it sits in says where.
    """
    chosen = (action.get("selected_option") or {}).get("value")
    if chosen:
        where = str(action.get("block_id", ""))
        channel, _, thread_ts = where.removeprefix(_LOCATION_PREFIX).partition(":")
        found = (channel, thread_ts, str(chosen)) if where.startswith(_LOCATION_PREFIX) else None
    else:
        parts = str(action.get("value", "")).split(":", 2)
        found = (parts[0], parts[1], parts[2]) if len(parts) == 3 else None
    return found if found is not None and all(found) else None
