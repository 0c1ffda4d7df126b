"""Reassigning a follow-up (a button on the digest): Slack's user picker in a modal.

The digest's Done, Snooze and Open buttons are the shared ones (``bot.listeners.actions``).
"""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.follow_ups import FollowUpButton
from bot.blocks.limits import escape
from bot.blocks.modals import render_reassign_modal
from bot.blocks.text import mention
from bot.ids import ActionId, CallbackId, Field
from bot.listeners.views import Form, show_error
from bot.listeners.wiring import answered_later, before_ack
from bot.parsing.grammar import UsageError
from bot.request.deps import Deps
from bot.request.handlers import Acknowledge, reads, writes_before_ack
from bot.request.user_request import UserRequest
from crm_core.errors import CrmError
from crm_core.follow_ups.service import (
    get_follow_up,
    reassign_follow_up,
)


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.REASSIGN)(**answered_later(deps, reads(open_reassign_modal)))
    app.view(CallbackId.REASSIGN_FOLLOW_UP)(before_ack(deps, writes_before_ack(submit_reassign)))


def open_reassign_modal(request: UserRequest) -> None:
    clicked = FollowUpButton.decode(request.action_value)
    session = request.session
    follow_up = get_follow_up(session, actor=request.actor, follow_up_id=clicked.follow_up_id)
    request.open_modal(
        render_reassign_modal(
            language=request.language,
            metadata=request.modal_metadata(),
            follow_up_id=follow_up.id,
            customer_name=follow_up.customer_name,
            owner_id=follow_up.owner_id,
        )
    )


def submit_reassign(request: UserRequest, ack: Acknowledge) -> None:
    form = Form(request.body)
    owner = form.user(Field.OWNER)
    try:
        session = request.session
        follow_up = reassign_follow_up(
            session, actor=request.actor, follow_up_id=_follow_up_of(request), owner_id=owner
        )
    except CrmError as error:
        show_error(form, request, ack, error, default=Field.OWNER)
        return
    ack()
    request.reply(request.t("reassign.done", customer=escape(follow_up.customer_name), owner=mention(owner)))


def _follow_up_of(request: UserRequest) -> int:
    """The follow-up the modal was opened for, from the metadata crm-bot wrote when it opened it."""
    try:
        return int(request.metadata["follow_up"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("usage.stale_input") from None
