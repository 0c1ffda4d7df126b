"""Logging by reaction: the log emoji (``CRM_LOG_REACTION``, ``:memo:``) on a message logs it.

What is logged is what ``@crm log`` logs: the message's whole thread when it is in one (else the
message alone), as one ``support`` interaction keyed by the thread in the database, to the customer
the thread names (``crm_core.identity.mentions``), as the person who reacted, with their role.
Reacting again, by anyone, to any message of the thread, or Slack delivering the event twice,
changes that one interaction; the thread hears "logged" the first time, "updated" when it grew, and
nothing when nothing changed. When the thread names no customer, or several, the reacting person
gets a direct message to pick one (``bot.blocks.reaction_picker``); their pick logs the thread the
same way. Reactions with any other emoji are acknowledged and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.limits import escape
from bot.blocks.reaction_picker import MAX_CANDIDATES, picked, render_reaction_picker
from bot.ids import ActionId
from bot.listeners.candidates import log_fetched_thread
from bot.listeners.options import suggest_customers
from bot.listeners.wiring import acknowledge, answered_later, before_ack
from bot.parsing.grammar import UsageError
from bot.request.deps import Deps
from bot.request.handlers import reads_before_ack, writes
from bot.request.slack_threads import fetch_thread
from bot.request.user_request import UserRequest
from crm_core.customers.service import get_customer
from crm_core.identity.mentions import customers_named_in

# What Slack answers when the bot may not read the conversation: it has to be invited first.
_NOT_READABLE = frozenset({"not_in_channel", "channel_not_found"})


def register(app: App, deps: Deps) -> None:
    emoji = deps.settings.log_reaction

    def is_log_reaction(event: Mapping[str, Any]) -> bool:
        return event.get("reaction") == emoji and (event.get("item") or {}).get("type") == "message"

    app.event("reaction_added", matchers=[is_log_reaction])(
        **answered_later(deps, writes(log_reacted_message))
    )
    app.event("reaction_added")(acknowledge)  # any other emoji: nothing to do
    for action_id in (ActionId.LOG_REACTED_TO, ActionId.PICK_REACTED_TO):
        app.action(action_id)(**answered_later(deps, writes(log_to_picked_customer)))
    app.options(ActionId.PICK_REACTED_TO)(before_ack(deps, reads_before_ack(suggest_customers)))


def log_reacted_message(request: UserRequest) -> None:
    item: Mapping[str, Any] = (request.body.get("event") or {}).get("item") or {}
    channel = str(item.get("channel", ""))
    thread = fetch_thread(
        request.client,
        channel=channel,
        thread_ts=_thread_of(request.client, channel, str(item.get("ts", ""))),
        bot_user_id=request.bot_user_id,
    )
    session = request.session
    named = customers_named_in(session, actor=request.actor, text=thread.text, limit=MAX_CANDIDATES + 1)
    if len(named) == 1:
        # Another reaction on a thread logged just so stays silent: nothing new to say.
        log_fetched_thread(request, thread, named[0], confirm_unchanged=False)
        return
    blocks = render_reaction_picker(
        named,
        channel=thread.where.channel_id,
        thread_ts=thread.where.thread_ts,
        permalink=thread.where.permalink or "",
        language=request.language,
    )
    request.post_message(channel=request.user_id, text=_first_text(blocks), blocks=blocks)


def log_to_picked_customer(request: UserRequest) -> None:
    chosen = picked((request.body.get("actions") or [{}])[0])
    if chosen is None:
        raise UsageError("usage.mention")  # not a picker the app rendered: say how logging a thread works
    channel, thread_ts, external_id = chosen
    thread = fetch_thread(
        request.client, channel=channel, thread_ts=thread_ts, bot_user_id=request.bot_user_id
    )
    session = request.session
    customer = get_customer(session, actor=request.actor, external_id=external_id)
    logged, _ = log_fetched_thread(request, thread, customer, confirm_unchanged=False)
    said = request.t(
        "reaction.picked",
        link=thread.where.permalink or "",
        kind=request.t(f"kind.{logged}"),
        customer=escape(customer.name),
    )
    request.reply(said, replace=True)


def _thread_of(client: WebClient, channel: str, ts: str) -> str:
    """The ts of the thread the message ``ts`` is in: its parent's, or its own outside a thread."""
    try:
        answer = client.conversations_replies(channel=channel, ts=ts, limit=1)
    except SlackApiError as error:
        if error.response.get("error") in _NOT_READABLE:
            raise UsageError("usage.bot_not_in_channel") from error
        raise
    messages = answer.get("messages") or []
    return str(messages[0].get("thread_ts") or ts) if messages else ts


def _first_text(blocks: list[Any]) -> str:
    """The notification text: the picker's question."""
    return str(blocks[0]["text"]["text"])
