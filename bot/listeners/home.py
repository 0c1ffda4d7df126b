"""The App Home tab: published when its viewer opens it, and again after a click on one of its buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_bolt import App
from sqlalchemy.orm import Session

from bot.blocks.home import render_home
from bot.blocks.limits import Block
from bot.listeners.wiring import acknowledge, answered_later
from bot.request.deps import Deps
from bot.request.handlers import reads
from bot.request.user_request import UserRequest
from crm_core.actor import Actor
from crm_core.follow_ups.service import open_follow_ups
from crm_core.interactions.service import customers_touched_by

RECENT_CUSTOMERS = 10


def register(app: App, deps: Deps) -> None:
    opened = answered_later(deps, reads(publish_home), busy_notice=False)
    app.event("app_home_opened", matchers=[opened_home_tab])(**opened)
    # Opening the Messages tab sends the same event: acknowledged, and nothing more (not even a
    # refusal to a guest, who did not ask for anything).
    app.event("app_home_opened")(acknowledge)


def opened_home_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "home"


def publish_home(request: UserRequest) -> None:
    language, today = request.language, request.today()  # may ask Slack: before the unit opens
    session = request.session
    view = home_view(session, actor=request.actor, language=language, today=today)
    request.publish_home(view)


def home_view(session: Session, *, actor: Actor, language: str, today: dt.date) -> Block:
    """The Home tab of ``actor``, the person viewing it, as it is now."""
    follow_ups = open_follow_ups(session, actor=actor, owner_id=actor.user_id)
    touched = customers_touched_by(session, actor=actor, author=actor.user_id, limit=RECENT_CUSTOMERS)
    return render_home(follow_ups, touched, language=language, today=today)
