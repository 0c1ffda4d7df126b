"""Modal submissions: validated and saved before the ack, so a mistake shows under its field.

Slack shows ``response_action: errors`` only when it comes in the ack itself, so these handlers do
their (single-row, quick) transaction first and answer Slack after it; on any domain error the
transaction has rolled back and nothing was written. The confirmation, which calls Slack, comes
after the ack. Each view's id is the idempotency key of what it writes, so a submission Slack
delivers twice is saved once; a modal that logs a Slack thread is keyed by the thread instead, so
the thread stays one interaction however often it is logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from slack_bolt import App

from bot.blocks.limits import cap_blocks, context, escape, section
from bot.blocks.profile import render_profile_card
from bot.blocks.text import customer_line, day
from bot.ids import CallbackId, Field
from bot.listeners.wiring import before_ack
from bot.request.deps import Deps
from bot.request.errors import describe
from bot.request.handlers import Acknowledge, writes_before_ack
from bot.request.slack_threads import confirmation_key
from bot.request.user_request import UserRequest
from crm_core.customers.service import create_customer, get_customer
from crm_core.errors import CrmError
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import SlackThread, log_interaction
from crm_core.read_models.profile import load_profile


def register(app: App, deps: Deps) -> None:
    app.view(CallbackId.LOG_INTERACTION)(before_ack(deps, writes_before_ack(submit_log_interaction)))
    app.view(CallbackId.NEW_CUSTOMER)(before_ack(deps, writes_before_ack(submit_new_customer)))
    app.view(CallbackId.ADD_FOLLOW_UP)(before_ack(deps, writes_before_ack(submit_follow_up)))


class Form:
    """The values of a submitted modal, by ``Field`` (each input's block and action id)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        view = body.get("view") or {}
        self.view_id: str = view.get("id", "")
        self._values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def has(self, field: Field) -> bool:
        return field in self._values

    def _element(self, field: Field) -> dict[str, Any]:
        return self._values.get(field, {}).get(field) or {}

    def text(self, field: Field) -> str:
        return (self._element(field).get("value") or "").strip()

    def choice(self, field: Field) -> str:
        return (self._element(field).get("selected_option") or {}).get("value") or ""

    def user(self, field: Field) -> str:
        return self._element(field).get("selected_user") or ""

    def date(self, field: Field) -> dt.date | None:
        value = self._element(field).get("selected_date")
        return dt.date.fromisoformat(value) if value else None


def submit_log_interaction(request: UserRequest, ack: Acknowledge) -> None:
    form, today = Form(request.body), request.today()
    occurred_on, follow_up_on = form.date(Field.OCCURRED_ON) or today, form.date(Field.FOLLOW_UP_ON)
    errors: dict[str, str] = {}
    if occurred_on > today:
        errors[Field.OCCURRED_ON] = request.t("modal.error.future")
    if follow_up_on is not None and follow_up_on < today:
        errors[Field.FOLLOW_UP_ON] = request.t("modal.error.past")
    if errors:
        ack(response_action="errors", errors=errors)
        return
    customer, thread = form.choice(Field.CUSTOMER), logged_thread(request.metadata)
    try:
        session = request.session
        logged, outcome = log_interaction(
            session,
            actor=request.actor,
            customer_external_id=customer,
            kind=form.choice(Field.KIND),
            summary=form.text(Field.SUMMARY),
            occurred_at=_occurred_at(request, occurred_on),
            thread=thread,
            idempotency_key=None if thread else f"slack-view:{form.view_id}",
        )
        if follow_up_on is not None:
            add_follow_up(
                session,
                actor=request.actor,
                customer_external_id=customer,
                due_on=follow_up_on,
                idempotency_key=f"slack-view:{form.view_id}:follow-up",
            )
        name = get_customer(session, actor=request.actor, external_id=customer).name
    except CrmError as error:
        show_error(form, request, ack, error, default=Field.SUMMARY)
        return
    ack()
    said = "log.done" if thread is None else confirmation_key(outcome)
    request.reply(request.t(said, kind=request.t(f"kind.{logged.kind}"), customer=escape(name)))


def submit_new_customer(request: UserRequest, ack: Acknowledge) -> None:
    form = Form(request.body)
    try:
        session = request.session
        created = create_customer(
            session,
            actor=request.actor,
            name=form.text(Field.NAME),
            email=form.text(Field.EMAIL) or None,
            phone=form.text(Field.PHONE) or None,
            company=form.text(Field.COMPANY) or None,
            owner_id=request.user_id,
        )
        profile = load_profile(session, actor=request.actor, external_id=created.customer.external_id)
    except CrmError as error:
        show_error(form, request, ack, error, default=Field.NAME)
        return
    ack()
    done = request.t("customer.created", name=escape(created.customer.name))
    warning = [
        section(request.t("customer.likely_duplicates")),
        *(context(customer_line(other)) for other in created.likely_duplicates),
    ]
    card = render_profile_card(profile, language=request.language, today=request.today())
    blocks = [section(done), *(warning if created.likely_duplicates else []), *card]
    request.reply(done, cap_blocks(blocks, request.t("blocks.truncated")))


def submit_follow_up(request: UserRequest, ack: Acknowledge) -> None:
    form = Form(request.body)
    due_on = form.date(Field.DUE_ON)
    if due_on is None or due_on < request.today():
        ack(response_action="errors", errors={str(Field.DUE_ON): request.t("modal.error.past")})
        return
    try:
        session = request.session
        follow_up = add_follow_up(
            session,
            actor=request.actor,
            customer_external_id=str(request.metadata.get("customer", "")),
            due_on=due_on,
            note=form.text(Field.NOTE),
            idempotency_key=f"slack-view:{form.view_id}",
        )
    except CrmError as error:
        show_error(form, request, ack, error, default=Field.NOTE)
        return
    ack()
    name = escape(follow_up.customer_name)
    request.reply(request.t("follow_up.done", customer=name, due=day(follow_up.due_on)))


def show_error(
    form: Form, request: UserRequest, ack: Acknowledge, error: CrmError, *, default: Field
) -> None:
    """Put a domain error under the input it is about, or under ``default`` when the form lacks it."""
    target = next((field for field in Field if field == error.field and form.has(field)), default)
    ack(response_action="errors", errors={str(target): describe(error, request)})


def logged_thread(metadata: Mapping[str, Any]) -> SlackThread | None:
    """The Slack thread a modal logs, when the "Log to CRM" shortcut opened it (one interaction each)."""
    where = metadata.get("thread")
    return SlackThread(**where) if where else None


def _occurred_at(request: UserRequest, occurred_on: dt.date) -> dt.datetime:
    """Now, for today; noon in the user's time zone for an earlier day (a date without a time)."""
    if occurred_on == request.today():
        return request.now().replace(tzinfo=None)
    noon = dt.datetime.combine(occurred_on, dt.time(12), tzinfo=request.timezone)
    return noon.astimezone(dt.UTC).replace(tzinfo=None)
