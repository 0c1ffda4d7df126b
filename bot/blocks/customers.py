"""Answers to a query that is not one customer: candidates to pick, or suggestions and "Create"."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks.limits import MAX_TEXT, Block, button, cap_blocks, context, escape, plain, section
from bot.blocks.pending import FOLLOW_UP, LOG, PendingAction
from bot.blocks.text import customer_line, day
from bot.ids import ActionId
from bot.messages import t
from crm_core.customer_view import CustomerView
from crm_core.customers.service import MAX_NAME_LENGTH


def candidates_title(query: str, count: int, *, language: str) -> str:
    """ "Several customers match …", or for a list of one, that it is the closest match."""
    key = "customer.ambiguous" if count > 1 else "customer.one_candidate"
    return t(language, key, query=escape(query))


def render_candidates(
    query: str,
    candidates: Sequence[CustomerView],
    *,
    language: str,
    pending: PendingAction | None = None,
) -> list[Block]:
    """Customers the query may mean, one line each with a button.

    Without a pending action the button opens the profile. With one it finishes the action with
    that customer ("Choose"); when the action is too long for a button's value, the button opens
    the action's form for that customer and the text is quoted in full below, to paste in.
    """
    blocks = [section(candidates_title(query, len(candidates), language=language))]
    if pending is None:
        blocks.extend(customer_row(c, language) for c in candidates)
        return cap_blocks(blocks, t(language, "blocks.truncated"))
    values = [pending.value_for(c.external_id) for c in candidates]
    if all(value is not None for value in values):
        blocks.append(context(t(language, f"customer.pending.{pending.action}", **_said(pending, language))))
        blocks.extend(
            _row(
                c, button(t(language, "button.choose"), ActionId.PICK_CANDIDATE, value or "", style="primary")
            )
            for c, value in zip(candidates, values, strict=True)
        )
        return cap_blocks(blocks, t(language, "blocks.truncated"))
    form = ActionId.ADD_FOLLOW_UP if pending.action == FOLLOW_UP else ActionId.LOG_INTERACTION
    label = "button.follow_up" if pending.action == FOLLOW_UP else "button.log"
    blocks.extend(_row(c, button(t(language, label), form, c.external_id)) for c in candidates)
    blocks.append(section(t(language, "customer.pending.too_long")))
    quoted = [pending.text[i : i + _QUOTED_PART] for i in range(0, len(pending.text), _QUOTED_PART)]
    blocks.extend({"type": "section", "text": plain(part)} for part in quoted)
    return cap_blocks(blocks, t(language, "blocks.truncated"))


# Quoted as plain text (no markup read into it), in parts a section can hold.
_QUOTED_PART = MAX_TEXT - 100


def _said(pending: PendingAction, language: str) -> dict[str, str]:
    if pending.action == LOG:
        return {"kind": t(language, f"kind.{pending.kind}")}
    if pending.action == FOLLOW_UP:
        return {"due": day(pending.due_on) if pending.due_on else ""}
    return {}


@dataclass(frozen=True)
class NewCustomer:
    """What the Create customer button fills the form with: the name, e-mail or phone searched for."""

    name: str = ""
    email: str = ""
    phone: str = ""

    def encode(self) -> str:
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if v}, ensure_ascii=False)

    @classmethod
    def decode(cls, value: str) -> NewCustomer:
        """A value ``encode`` made; a plain text (buttons drawn before there was a choice) is a name."""
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(name=value)
        return cls(**{k: str(data[k]) for k in ("name", "email", "phone") if k in data})


def render_no_match(
    query: str, suggestions: Sequence[CustomerView], *, language: str, contact: str | None = None
) -> list[Block]:
    """Nobody matches: the nearest names, if any, and a button to create the customer.

    ``contact`` is "email" or "phone" when the query was one: it matched nobody exactly, nothing is
    suggested by name, and the new customer's form has that e-mail or phone filled in.
    """
    key = {"email": "customer.no_email_match", "phone": "customer.no_phone_match"}.get(contact or "")
    blocks = [section(t(language, key or "customer.no_match", query=escape(query)))]
    if suggestions:
        blocks.append(section(t(language, "customer.suggestions")))
        blocks.extend(customer_row(c, language) for c in suggestions)
    if contact == "email":
        prefill = NewCustomer(email=query)
    elif contact == "phone":
        prefill = NewCustomer(phone=query)
    else:
        prefill = NewCustomer(name=query[:MAX_NAME_LENGTH])
    create = button(
        t(language, "button.create_customer"), ActionId.CREATE_CUSTOMER, prefill.encode(), style="primary"
    )
    blocks.append({"type": "actions", "elements": [create]})
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def customer_row(customer: CustomerView, language: str, detail: str = "") -> Block:
    """One customer on a line (and ``detail`` under it, if any), with a button opening the profile."""
    return _row(
        customer, button(t(language, "button.open"), ActionId.OPEN_PROFILE, customer.external_id), detail
    )


def _row(customer: CustomerView, accessory: Block, detail: str = "") -> Block:
    return {**section("\n".join(filter(None, (customer_line(customer), detail)))), "accessory": accessory}
