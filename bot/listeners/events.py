"""``@crm log <customer>`` inside a thread: the whole thread becomes one ``support`` interaction.

The event is acknowledged at once and the work runs after the ack (``answered_later``). The thread
is keyed by its channel and parent ts in the database, so Slack's retries of the event and later
mentions in the same thread update that one interaction instead of adding another, whichever
replica gets them.
The confirmation goes to the thread for everyone to see: "logged" the first time, "updated" after;
it names the customer, so where it went is recorded for an erasure (``bot.request.posting``).
A retried delivery that changed nothing stays silent: the first delivery has already answered.
Mistakes (no thread, no customer, an ambiguous name) are answered to the mentioner only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import App

from bot.blocks.as_text import slack_to_plain
from bot.blocks.limits import escape
from bot.blocks.pending import THREAD, PendingAction
from bot.listeners.wiring import answered_later
from bot.parsing.grammar import UsageError, parse_mention
from bot.request.deps import Deps
from bot.request.handlers import writes
from bot.request.pending import resolve_for
from bot.request.posting import post_naming
from bot.request.slack_threads import THREAD_KIND, confirmation_key, fetch_thread
from bot.request.user_request import UserRequest
from crm_core.interactions.service import Outcome, log_interaction
from crm_core.privacy.posted import PostKind


def register(app: App, deps: Deps) -> None:
    app.event("app_mention")(**answered_later(deps, writes(log_mentioned_thread)))


def log_mentioned_thread(request: UserRequest) -> None:
    event: Mapping[str, Any] = request.body.get("event") or {}
    command = parse_mention(_without_mention(str(event.get("text", "")), request.bot_user_id))
    if not event.get("thread_ts"):
        raise UsageError("usage.mention")
    channel, thread_ts = str(event.get("channel")), str(event["thread_ts"])
    thread = fetch_thread(
        request.client, channel=channel, thread_ts=thread_ts, bot_user_id=request.bot_user_id
    )
    session = request.session
    customer = resolve_for(
        session, query=command.customer, pending=PendingAction(THREAD, channel=channel, thread_ts=thread_ts)
    )
    logged, outcome = log_interaction(
        session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        kind=THREAD_KIND,
        summary=thread.text,
        occurred_at=thread.started_at,
        thread=thread.where,
    )
    if outcome is Outcome.UNCHANGED and request.is_retry:
        return
    said = request.t(
        confirmation_key(outcome), kind=request.t(f"kind.{logged.kind}"), customer=escape(customer.name)
    )
    request.send(
        lambda: post_naming(
            request,
            customers=[customer.external_id],
            kind=PostKind.THREAD_CONFIRMATION,
            channel=channel,
            thread_ts=thread_ts,
            text=said,
        )
    )


def _without_mention(text: str, bot_user_id: str) -> str:
    """The words after ``@crm``, as the person typed them (Slack's markup spelled out)."""
    return slack_to_plain(text.replace(f"<@{bot_user_id}>", " ")).strip()
