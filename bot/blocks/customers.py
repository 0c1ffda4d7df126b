"""Answers to a query that is not one customer: candidates to pick, or suggestions and "Create"."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.limits import Block, button, cap_blocks, escape, section
from bot.blocks.text import customer_line
from bot.ids import ActionId
from bot.messages import t
from crm_core.customer_view import CustomerView
from crm_core.customers.service import MAX_NAME_LENGTH


def render_candidates(query: str, candidates: Sequence[CustomerView], *, language: str) -> list[Block]:
    """Several customers match: one line each with an Open button."""
    blocks = [section(t(language, "customer.ambiguous", query=escape(query)))]
    blocks.extend(customer_row(c, language) for c in candidates)
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def render_no_match(query: str, suggestions: Sequence[CustomerView], *, language: str) -> list[Block]:
    """Nobody matches: the nearest names, if any, and a button to create the customer."""
    blocks = [section(t(language, "customer.no_match", query=escape(query)))]
    if suggestions:
        blocks.append(section(t(language, "customer.suggestions")))
        blocks.extend(customer_row(c, language) for c in suggestions)
    create = button(
        t(language, "button.create_customer"),
        ActionId.CREATE_CUSTOMER,
        query[:MAX_NAME_LENGTH],
        style="primary",
    )
    blocks.append({"type": "actions", "elements": [create]})
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def customer_row(customer: CustomerView, language: str, detail: str = "") -> Block:
    """One customer on a line (and ``detail`` under it, if any), with a button opening the profile."""
    return {
        **section("\n".join(filter(None, (customer_line(customer), detail)))),
        "accessory": button(t(language, "button.open"), ActionId.OPEN_PROFILE, customer.external_id),
    }
