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
from bot.blocks.pending import THREAD, PendingAction
from bot.listeners.candidates import log_fetched_thread
from bot.listeners.wiring import answered_later
from bot.parsing.grammar import UsageError, parse_mention
from bot.request.deps import Deps
from bot.request.handlers import writes
from bot.request.pending import resolve_for
from bot.request.slack_threads import fetch_thread
from bot.request.user_request import UserRequest


def register(app: App, deps: Deps) -> None:
    app.event("app_mention")(**answered_later(deps, writes(log_mentioned_thread)))


def log_mentioned_thread(request: UserRequest) -> None:
    event: Mapping[str, Any] = request.body.get("event") or {}
    command = parse_mention(_without_mention(str(event.get("text", "")), request.bot_user_id))
    if not event.get("thread_ts"):
        raise UsageError("usage.mention")
    channel, thread_ts = str(event.get("channel")), str(event["thread_ts"])
    # Read from Slack before the unit of work's first statement: on SQLite that statement takes the
    # one write lock, and every other writer (the acks keeping their requests in the inbox
    # included) would wait for it through the Web API call, however slow Slack is then.
    thread = fetch_thread(
        request.client, channel=channel, thread_ts=thread_ts, bot_user_id=request.bot_user_id
    )
    pending = PendingAction(THREAD, channel=channel, thread_ts=thread_ts)
    customer = resolve_for(request.session, actor=request.actor, query=command.customer, pending=pending)
    log_fetched_thread(request, thread, customer, confirm_unchanged=not request.is_retry)


def _without_mention(text: str, bot_user_id: str) -> str:
    """The words after ``@crm``, as the person typed them (Slack's markup spelled out)."""
    return slack_to_plain(text.replace(f"<@{bot_user_id}>", " ")).strip()
