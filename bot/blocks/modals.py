"""Modals for what does not fit on one command line: logging, a new customer, a follow-up.

Each modal carries in ``private_metadata`` where it was opened (channel), for whom (customer), and the
user's language and time zone (``UserRequest.modal_metadata``), so the submission can be validated
and answered within the ack without asking Slack again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bot.blocks.limits import MAX_OPTION_TEXT, Block, clip, context, escape, plain
from bot.ids import CallbackId, Field
from bot.messages import t
from bot.parsing.grammar import LOGGABLE_KINDS
from crm_core.customer_view import CustomerView
from crm_core.customers.service import MAX_NAME_LENGTH

MAX_TITLE = 24
MAX_INPUT = 3000


def customer_option(customer: CustomerView) -> dict[str, Any]:
    """An ``external_select`` option: the name (and company) shown, the external id as value."""
    label = f"{customer.name} ({customer.company})" if customer.company else customer.name
    return {"text": plain(label, MAX_OPTION_TEXT), "value": customer.external_id}


def render_log_interaction_modal(
    *,
    language: str,
    today: dt.date,
    metadata: dict[str, Any],
    customer: CustomerView | None = None,
    summary: str = "",
    kind: str = LOGGABLE_KINDS[0],
    occurred_on: dt.date | None = None,
) -> Block:
    """The log modal, prefilled as far as known (a logged thread brings its text, date and customer)."""
    picker: Block = {"type": "external_select", "action_id": Field.CUSTOMER, "min_query_length": 1}
    picker["placeholder"] = plain(t(language, "modal.customer_placeholder"))
    if customer is not None:
        picker["initial_option"] = customer_option(customer)
    kinds = [{"text": plain(t(language, f"kind.{kind}")), "value": kind} for kind in LOGGABLE_KINDS]
    preselected = next(option for option in kinds if option["value"] == kind)
    blocks = [
        _input(Field.CUSTOMER, t(language, "modal.customer"), picker),
        _input(
            Field.KIND,
            t(language, "modal.kind"),
            {
                "type": "static_select",
                "action_id": Field.KIND,
                "options": kinds,
                "initial_option": preselected,
            },
        ),
        _input(
            Field.SUMMARY, t(language, "modal.summary"), _text_input(Field.SUMMARY, summary, multiline=True)
        ),
        _input(
            Field.OCCURRED_ON,
            t(language, "modal.occurred_on"),
            _date_input(Field.OCCURRED_ON, occurred_on or today),
        ),
        _input(
            Field.FOLLOW_UP_ON,
            t(language, "modal.follow_up_on"),
            _date_input(Field.FOLLOW_UP_ON, None),
            optional=True,
        ),
    ]
    return _modal(CallbackId.LOG_INTERACTION, "modal.log_title", language, blocks, metadata)


def render_new_customer_modal(
    *, language: str, metadata: dict[str, Any], name: str = "", email: str = "", phone: str = ""
) -> Block:
    """The new-customer form, filled in with what was searched for (a name, an e-mail or a phone)."""
    blocks = [
        _input(
            Field.NAME, t(language, "modal.name"), _text_input(Field.NAME, name, max_length=MAX_NAME_LENGTH)
        ),
        _input(
            Field.EMAIL,
            t(language, "modal.email"),
            _text_input(Field.EMAIL, email, max_length=254),
            optional=True,
        ),
        _input(
            Field.PHONE,
            t(language, "modal.phone"),
            _text_input(Field.PHONE, phone, max_length=40),
            optional=True,
        ),
        _input(
            Field.COMPANY,
            t(language, "modal.company"),
            _text_input(Field.COMPANY, "", max_length=MAX_NAME_LENGTH),
            optional=True,
        ),
    ]
    return _modal(CallbackId.NEW_CUSTOMER, "modal.new_customer_title", language, blocks, metadata)


def render_follow_up_modal(
    *, language: str, today: dt.date, metadata: dict[str, Any], customer: CustomerView
) -> Block:
    blocks = [
        context(t(language, "modal.follow_up_for", customer=escape(customer.name))),
        _input(
            Field.DUE_ON, t(language, "modal.due_on"), _date_input(Field.DUE_ON, today + dt.timedelta(days=1))
        ),
        _input(
            Field.NOTE, t(language, "modal.note"), _text_input(Field.NOTE, "", multiline=True), optional=True
        ),
    ]
    return _modal(
        CallbackId.ADD_FOLLOW_UP,
        "modal.follow_up_title",
        language,
        blocks,
        {**metadata, "customer": customer.external_id},
    )


def _modal(
    callback_id: CallbackId, title_key: str, language: str, blocks: list[Block], metadata: dict[str, Any]
) -> Block:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(t(language, title_key), MAX_TITLE),
        "submit": plain(t(language, "modal.submit"), MAX_TITLE),
        "close": plain(t(language, "modal.cancel"), MAX_TITLE),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _input(field: Field, label: str, element: Block, *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": field,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def _text_input(field: Field, initial: str, *, multiline: bool = False, max_length: int = MAX_INPUT) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": field,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = clip(initial, max_length)
    return element


def _date_input(field: Field, initial: dt.date | None) -> Block:
    element: Block = {"type": "datepicker", "action_id": field}
    if initial is not None:
        element["initial_date"] = initial.isoformat()
    return element


def render_reassign_modal(
    *, language: str, metadata: dict[str, Any], follow_up_id: int, customer_name: str, owner_id: str | None
) -> Block:
    """Pick the colleague who takes over a follow-up (Slack's own user picker)."""
    picker: Block = {"type": "users_select", "action_id": Field.OWNER}
    if owner_id:
        picker["initial_user"] = owner_id
    blocks = [
        context(t(language, "modal.follow_up_for", customer=escape(customer_name))),
        _input(Field.OWNER, t(language, "reassign.owner"), picker),
    ]
    return _modal(
        CallbackId.REASSIGN_FOLLOW_UP,
        "reassign.title",
        language,
        blocks,
        {**metadata, "follow_up": follow_up_id},
    )
