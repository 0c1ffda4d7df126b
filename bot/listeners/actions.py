"""Buttons: open a profile, open the modals, and close or snooze a follow-up.

Follow-up buttons redraw what they sit on (the profile card, the ``/crm mine`` list, or the whole
App Home tab), so a second click on a stale button only redraws it: completing is idempotent in
crm_core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from slack_bolt import App
from sqlalchemy.orm import Session

from bot.blocks.customers import NewCustomer
from bot.blocks.follow_ups import SNOOZE_DAYS, FollowUpButton, render_my_follow_ups
from bot.blocks.limits import Block, escape
from bot.blocks.modals import render_follow_up_modal, render_log_interaction_modal, render_new_customer_modal
from bot.blocks.profile import render_profile_card, render_shared_profile_card
from bot.blocks.text import day
from bot.ids import ActionId
from bot.listeners.candidates import pick_candidate
from bot.listeners.home import home_view
from bot.listeners.wiring import answered_later
from bot.request.deps import Deps
from bot.request.handlers import Declared, reads, writes
from bot.request.posting import post_naming
from bot.request.user_request import UserRequest
from crm_core.customers.service import get_customer
from crm_core.follow_ups.service import complete_follow_up, open_follow_ups, snooze_follow_up
from crm_core.privacy.posted import PostKind
from crm_core.read_models.channel_profile import load_channel_profile
from crm_core.read_models.profile import load_profile


def register(app: App, deps: Deps) -> None:
    handlers: dict[ActionId, Declared] = {
        ActionId.OPEN_PROFILE: reads(open_profile),
        ActionId.LOG_INTERACTION: reads(open_log_modal),
        ActionId.ADD_FOLLOW_UP: reads(open_follow_up_modal),
        ActionId.CREATE_CUSTOMER: reads(open_new_customer_modal),
        ActionId.PICK_CANDIDATE: writes(pick_candidate),
        ActionId.MARK_DONE: writes(mark_done),
        ActionId.SNOOZE_DAY: writes(snooze_a_day),
        ActionId.SNOOZE_WEEK: writes(snooze_a_week),
        ActionId.SHARE_PROFILE: reads(share_profile),
    }
    for action_id, handler in handlers.items():
        app.action(action_id)(**answered_later(deps, handler))


def open_profile(request: UserRequest) -> None:
    session = request.session
    today = request.today()
    profile = load_profile(session, actor=request.actor, external_id=request.action_value, today=today)
    blocks = render_profile_card(profile, language=request.language, today=today)
    request.reply(request.t("profile.fallback", name=escape(profile.customer.name)), blocks, replace=True)


def share_profile(request: UserRequest) -> None:
    """Post the card visibly in the channel it was asked in, cut for everyone who may read there."""
    profile = load_channel_profile(request.session, actor=request.actor, external_id=request.action_value)
    blocks = render_shared_profile_card(
        profile, language=request.language, today=request.today(), shared_by=request.user_id
    )
    post_naming(
        request,
        customers=[profile.customer.external_id],
        kind=PostKind.SHARED_CARD,
        channel=request.channel_id or "",
        text=request.t("profile.fallback", name=escape(profile.customer.name)),
        blocks=blocks,
    )


def open_log_modal(request: UserRequest) -> None:
    _open_modal_for_customer(request, render_log_interaction_modal)


def open_follow_up_modal(request: UserRequest) -> None:
    _open_modal_for_customer(request, render_follow_up_modal)


def _open_modal_for_customer(request: UserRequest, render: Callable[..., Block]) -> None:
    session = request.session
    customer = get_customer(session, actor=request.actor, external_id=request.action_value)
    request.open_modal(
        render(
            language=request.language,
            today=request.today(),
            metadata=request.modal_metadata(),
            customer=customer,
        )
    )


def open_new_customer_modal(request: UserRequest) -> None:
    prefill = NewCustomer.decode(request.action_value)
    request.open_modal(
        render_new_customer_modal(
            language=request.language,
            metadata=request.modal_metadata(),
            name=prefill.name,
            email=prefill.email,
            phone=prefill.phone,
        )
    )


def mark_done(request: UserRequest) -> None:
    clicked = FollowUpButton.decode(request.action_value)
    today = request.today()  # may ask Slack for the person's time zone: not inside the transaction
    session = request.session
    complete_follow_up(
        session,
        actor=request.actor,
        follow_up_id=clicked.follow_up_id,
        now=request.now().replace(tzinfo=None),
    )
    redraw = _redraw(session, request, clicked, today)
    redraw(request.t("follow_up.marked_done"))


def snooze_a_day(request: UserRequest) -> None:
    _snooze(request, SNOOZE_DAYS[ActionId.SNOOZE_DAY])


def snooze_a_week(request: UserRequest) -> None:
    _snooze(request, SNOOZE_DAYS[ActionId.SNOOZE_WEEK])


def _snooze(request: UserRequest, days: int) -> None:
    clicked = FollowUpButton.decode(request.action_value)
    today = request.today()  # may ask Slack for the person's time zone: not inside the transaction
    session = request.session
    snoozed = snooze_follow_up(
        session, actor=request.actor, follow_up_id=clicked.follow_up_id, days=days, today=today
    )
    redraw = _redraw(session, request, clicked, today)
    redraw(request.t("follow_up.snoozed", due=day(snoozed.due_on)))


def _redraw(
    session: Session, request: UserRequest, clicked: FollowUpButton, today: dt.date
) -> Callable[[str], None]:
    """Read what the button's surface shows now, in the click's transaction; the returned function
    sends it, after the commit, with a notice: the Home tab is re-published, a message replaced."""
    if request.on_home:
        view = home_view(session, actor=request.actor, language=request.language, today=today)
        return lambda _notice: request.publish_home(view)
    if clicked.in_digest:  # the digest is left as it was sent, a record of the morning
        return lambda notice: request.reply(notice)
    if clicked.customer is not None:
        profile = load_profile(session, actor=request.actor, external_id=clicked.customer, today=today)
        blocks = render_profile_card(profile, language=request.language, today=today)
    else:
        follow_ups = open_follow_ups(session, actor=request.actor, owner_id=request.user_id)
        blocks = render_my_follow_ups(follow_ups, language=request.language, today=today)
    return lambda notice: request.reply(notice, blocks, replace=True)
