"""``/crm``: acknowledged at once with nothing, answered ephemerally after the ack (``answered_later``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from slack_bolt import App

from bot.blocks.audit import render_audit
from bot.blocks.follow_ups import render_my_follow_ups
from bot.blocks.help import render_help
from bot.blocks.limits import escape
from bot.blocks.pending import FOLLOW_UP, LOG, PendingAction
from bot.blocks.profile import render_profile_card
from bot.blocks.text import mention
from bot.listeners.campaigns import send_campaign_list
from bot.listeners.candidates import finish
from bot.listeners.channel_alerts import list_subscriptions, subscribe_channel, unsubscribe_channel
from bot.listeners.wiring import answered_later
from bot.parsing.command_text import typed_text
from bot.parsing.grammar import (
    Find,
    Help,
    ListSubscriptions,
    Log,
    Mine,
    Segment,
    SetFollowUp,
    SetRole,
    ShowAudit,
    Subscribe,
    Unsubscribe,
    UsageError,
    parse_command,
)
from bot.request.deps import Deps
from bot.request.handlers import Declared, Routed, reads, writes
from bot.request.pending import resolve_for
from bot.request.units import Unit
from bot.request.user_request import UserRequest
from crm_core.access.policy import Permission, authorize
from crm_core.follow_ups.service import open_follow_ups
from crm_core.identity.search import resolve_customer
from crm_core.read_models.audit_trail import audit_events
from crm_core.read_models.profile import load_profile
from crm_core.team.service import add_member

COMMAND = "/crm"
AUDIT_SHOWN = 100  # events of one customer in /crm admin audit; the CLI reads the rest


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(**answered_later(deps, Routed(answer_crm_command, reads_only=only_reads)))


def answer_crm_command(request: UserRequest) -> Declared:
    """The handler for what was typed, declared a reader or a writer (parsed before any unit opens)."""
    command = parse_command(typed_text(request.body.get("text", "")), today=request.today())
    request.parsed_command = command
    return SUB_COMMANDS[type(command)]


def only_reads(body: Mapping[str, Any]) -> bool:
    """Whether what was typed runs a reader (``find``, ``help``, ``mine``…), told at the ack from the words.

    The person's time zone (which may take Slack) is not needed for that: only a follow-up's date
    depends on their today, and only a writer takes a date. So any day will do here; the handler
    parses again with theirs. What does not parse is answered with its mistake, and kept.
    """
    try:
        command = parse_command(typed_text(body.get("text", "")), today=dt.date.today())
    except UsageError:
        return False
    return SUB_COMMANDS[type(command)].unit is Unit.READS


def show_help(request: UserRequest) -> None:
    request.reply(request.t("help.title"), render_help(language=request.language))


def find_customer(request: UserRequest) -> None:
    command = request.parsed(Find)
    session = request.session
    customer = resolve_customer(session, actor=request.actor, query=command.query)
    today = request.today()
    profile = load_profile(session, actor=request.actor, external_id=customer.external_id, today=today)
    blocks = render_profile_card(profile, language=request.language, today=today)
    request.reply(request.t("profile.fallback", name=escape(customer.name)), blocks)


def log_to_customer(request: UserRequest) -> None:
    command = request.parsed(Log)
    pending = PendingAction(LOG, kind=command.kind, text=command.summary)
    finish(
        request,
        resolve_for(request.session, actor=request.actor, query=command.customer, pending=pending),
        pending,
    )


def set_follow_up(request: UserRequest) -> None:
    command = request.parsed(SetFollowUp)
    pending = PendingAction(FOLLOW_UP, due_on=command.due_on, text=command.note)
    finish(
        request,
        resolve_for(request.session, actor=request.actor, query=command.customer, pending=pending),
        pending,
    )


def list_my_follow_ups(request: UserRequest) -> None:
    session = request.session
    follow_ups = open_follow_ups(session, actor=request.actor, owner_id=request.user_id)
    blocks = render_my_follow_ups(follow_ups, language=request.language, today=request.today())
    request.reply(request.t("mine.title", count=len(follow_ups)), blocks)


def set_role(request: UserRequest) -> None:
    command = request.parsed(SetRole)
    session = request.session
    add_member(session, actor=request.actor, user_id=command.user_id, role=command.role)
    request.reply(request.t("admin.role_set", user=mention(command.user_id), role=command.role))


def show_audit(request: UserRequest) -> None:
    command = request.parsed(ShowAudit)
    session = request.session
    # Refused before the search, so a non-admin hears "admins only", not "no such customer".
    authorize(request.actor, Permission.READ_AUDIT)
    customer = resolve_customer(session, actor=request.actor, query=command.customer)
    entries = audit_events(
        session, actor=request.actor, customer_external_id=customer.external_id, limit=AUDIT_SHOWN
    )
    title = request.t("audit.title", customer=escape(customer.name))
    request.reply(
        title, render_audit(customer.name, entries, language=request.language, timezone=request.timezone)
    )


SUB_COMMANDS: dict[type, Declared] = {
    Help: reads(show_help),
    Find: reads(find_customer),
    Log: writes(log_to_customer),
    SetFollowUp: writes(set_follow_up),
    Mine: reads(list_my_follow_ups),
    SetRole: writes(set_role),
    ShowAudit: reads(show_audit),
    Subscribe: writes(subscribe_channel),
    ListSubscriptions: reads(list_subscriptions),
    Unsubscribe: writes(unsubscribe_channel),
    Segment: reads(send_campaign_list),
}
