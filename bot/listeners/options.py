"""The customer picker (``external_select``) in modals, backed by the forgiving search.

Slack wants the options in the ack itself, so the search runs on the ack path; it is one indexed
query over a cached name index, well within Slack's three seconds.
"""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.modals import customer_option
from bot.ids import Field
from bot.listeners.wiring import before_ack
from bot.request.deps import Deps
from bot.request.handlers import Acknowledge, reads_before_ack
from bot.request.user_request import UserRequest
from crm_core.identity.search import SUGGESTION_SCORE, find_customers

MAX_OPTIONS = 20


def register(app: App, deps: Deps) -> None:
    app.options(Field.CUSTOMER)(before_ack(deps, reads_before_ack(suggest_customers)))


def suggest_customers(request: UserRequest, ack: Acknowledge) -> None:
    query = str(request.body.get("value", ""))
    session = request.session
    matches = find_customers(
        session, actor=request.actor, query=query, limit=MAX_OPTIONS, cutoff=SUGGESTION_SCORE
    )
    ack(options=[customer_option(match.customer) for match in matches])
