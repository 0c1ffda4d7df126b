"""``/crm``: acknowledged at once with nothing, answered ephemerally after the ack (``answered_later``)."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.audit import render_audit
from bot.blocks.follow_ups import render_my_follow_ups
from bot.blocks.help import render_help
from bot.blocks.limits import escape, unescape
from bot.blocks.profile import render_profile_card
from bot.blocks.text import day, mention
from bot.listeners.wiring import answered_later
from bot.parsing.grammar import Find, Help, Log, Mine, SetFollowUp, SetRole, ShowAudit, parse_command
from bot.request.user_request import Deps, UserRequest
from crm_core.access.policy import Permission, authorize
from crm_core.audit.query import audit_events
from crm_core.customers.profile import load_profile
from crm_core.follow_ups.service import add_follow_up, open_follow_ups
from crm_core.identity.search import resolve_customer
from crm_core.interactions.service import log_interaction
from crm_core.store import reading, transaction
from crm_core.team.service import add_member

COMMAND = "/crm"
AUDIT_SHOWN = 100  # events of one customer in /crm admin audit; the CLI reads the rest


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(**answered_later(deps, answer_crm_command))


def answer_crm_command(request: UserRequest) -> None:
    command = parse_command(unescape(request.body.get("text", "")), today=request.today())
    match command:
        case Help():
            show_help(request)
        case Find():
            find_customer(request, command)
        case Log():
            log_to_customer(request, command)
        case SetFollowUp():
            set_follow_up(request, command)
        case Mine():
            list_my_follow_ups(request)
        case SetRole():
            set_role(request, command)
        case ShowAudit():
            show_audit(request, command)


def show_help(request: UserRequest) -> None:
    request.reply(request.t("help.title"), render_help(language=request.language))


def find_customer(request: UserRequest, command: Find) -> None:
    with reading(request.engine) as session:
        customer = resolve_customer(session, query=command.query)
        profile = load_profile(session, actor=request.actor, external_id=customer.external_id)
    blocks = render_profile_card(profile, language=request.language, today=request.today())
    request.reply(request.t("profile.fallback", name=escape(customer.name)), blocks)


def log_to_customer(request: UserRequest, command: Log) -> None:
    # The search reads without the write lock; the write that follows is short.
    with reading(request.engine) as session:
        customer = resolve_customer(session, query=command.customer)
    with transaction(request.engine) as session:
        log_interaction(
            session,
            actor=request.actor,
            customer_external_id=customer.external_id,
            kind=command.kind,
            summary=command.summary,
            occurred_at=request.now().replace(tzinfo=None),
        )
    kind = request.t(f"kind.{command.kind}")
    request.reply(request.t("log.done", kind=kind, customer=escape(customer.name)))


def set_follow_up(request: UserRequest, command: SetFollowUp) -> None:
    with transaction(request.engine) as session:
        customer = resolve_customer(session, query=command.customer)
        add_follow_up(
            session,
            actor=request.actor,
            customer_external_id=customer.external_id,
            due_on=command.due_on,
            note=command.note,
        )
    request.reply(request.t("follow_up.done", customer=escape(customer.name), due=day(command.due_on)))


def list_my_follow_ups(request: UserRequest) -> None:
    with reading(request.engine) as session:
        follow_ups = open_follow_ups(session, owner_id=request.user_id)
    blocks = render_my_follow_ups(follow_ups, language=request.language, today=request.today())
    request.reply(request.t("mine.title", count=len(follow_ups)), blocks)


def set_role(request: UserRequest, command: SetRole) -> None:
    with transaction(request.engine) as session:
        add_member(session, actor=request.actor, user_id=command.user_id, role=command.role)
    request.reply(request.t("admin.role_set", user=mention(command.user_id), role=command.role))


def show_audit(request: UserRequest, command: ShowAudit) -> None:
    with reading(request.engine) as session:
        # Refused before the search, so a non-admin hears "admins only", not "no such customer".
        authorize(request.actor, Permission.READ_AUDIT)
        customer = resolve_customer(session, query=command.customer)
        entries = audit_events(
            session, actor=request.actor, customer_external_id=customer.external_id, limit=AUDIT_SHOWN
        )
    title = request.t("audit.title", customer=escape(customer.name))
    request.reply(
        title, render_audit(customer.name, entries, language=request.language, timezone=request.timezone)
    )
