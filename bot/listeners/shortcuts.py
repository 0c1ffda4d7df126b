"""The "Log to CRM" message shortcut: the log modal, prefilled with the whole thread.

The trigger id Slack sends expires after 3 seconds, so the ack goes first and the modal is opened
from a lazy listener as soon as the thread is read (``conversations.replies`` and its permalink, two
quick Web API calls) and the customer it names is looked up (a scan of the cached name index; see
``crm_core.identity.mentions`` for when a customer is preselected). The thread and its permalink
travel in the modal's metadata, so the submission (saved before its ack) never waits for Slack.
"""

from __future__ import annotations

from dataclasses import asdict

from slack_bolt import App

from bot.blocks.modals import render_log_interaction_modal
from bot.ids import CallbackId
from bot.listeners.wiring import answered_later
from bot.request.deps import Deps
from bot.request.handlers import reads
from bot.request.slack_threads import THREAD_KIND, fetch_thread
from bot.request.user_request import UserRequest
from crm_core.identity.mentions import customer_named_in


def register(app: App, deps: Deps) -> None:
    app.shortcut(CallbackId.LOG_MESSAGE)(**answered_later(deps, reads(open_thread_log_modal)))


def open_thread_log_modal(request: UserRequest) -> None:
    message = request.body.get("message") or {}
    thread = fetch_thread(
        request.client,
        channel=request.channel_id or "",
        thread_ts=message.get("thread_ts") or message.get("ts") or "",
        bot_user_id=request.bot_user_id,
    )
    session = request.session
    customer = customer_named_in(session, actor=request.actor, text=thread.text)
    modal = render_log_interaction_modal(
        language=request.language,
        today=request.today(),
        metadata={**request.modal_metadata(), "thread": asdict(thread.where)},
        customer=customer,
        summary=thread.text,
        kind=THREAD_KIND,
        occurred_on=thread.started_on(request.timezone),
    )
    request.open_modal(modal)
