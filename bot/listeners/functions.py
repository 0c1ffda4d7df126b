"""Workflow Builder steps: ``find_customer``, ``log_interaction`` and ``add_follow_up``.

Slack runs a step by sending ``function_executed`` (``app.function`` in Bolt). Each is kept and
acknowledged like any request (``answered_later``, with Bolt's automatic ack turned off so the
request is kept before the ack), then run as the person its ``author``/``owner`` input names
(``bot.request.steps``), audited like that person's command. The outputs go back with
``functions.completeSuccess`` after the unit of work has committed; any error ends the step with
``functions.completeError`` through ``bot.request.errors``, in words a workflow's author can act on.

A delivery Slack repeats has one effect: the inbox ignores a repeated event id, and what a step
writes is keyed by its ``function_execution_id`` in the database, so a step run again (a replica
finishing a dead one's request) finds its interaction or follow-up already there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.blocks.as_text import mrkdwn_to_text
from bot.blocks.text import day
from bot.listeners.wiring import answered_later
from bot.messages import has_message
from bot.parsing.grammar import UsageError
from bot.parsing.when import latest_due_date, resolve_when
from bot.request.deps import Deps
from bot.request.handlers import Declared, reads, writes
from bot.request.steps import (
    StepInputMissing,
    acting_user,
    complete_step,
    execution_id,
    text_input,
)
from bot.request.user_request import UserRequest
from crm_core.follow_ups.service import add_follow_up
from crm_core.identity.search import resolve_customer
from crm_core.interactions.service import log_interaction
from crm_core.read_models.profile import ProfileView, load_profile


def register(app: App, deps: Deps) -> None:
    steps: dict[str, Declared] = {
        "find_customer": reads(find_customer_step),
        "log_interaction": writes(log_interaction_step),
        "add_follow_up": writes(add_follow_up_step),
    }
    for callback_id, declared in steps.items():
        listen = app.function(callback_id, middleware=[as_the_acting_person], auto_acknowledge=False)
        listen(**answered_later(deps, declared))


def as_the_acting_person(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    """Bolt finds no user in ``function_executed``: the person the step's inputs name is the user."""
    context["user_id"] = acting_user(body)
    next()


def find_customer_step(request: UserRequest) -> None:
    query = _required(request, "query")
    session = request.session
    customer = resolve_customer(session, actor=request.actor, query=query)
    today = request.today()
    profile = load_profile(session, actor=request.actor, external_id=customer.external_id, today=today)
    outputs: dict[str, Any] = {
        "customer_id": customer.external_id,
        "customer_name": customer.name,
        "segment": profile.segment or "",
        "churn_risk": profile.churn_risk.level if profile.churn_risk else "",
        "summary": _summary(request, profile),
    }
    if customer.owner_id:
        outputs["owner"] = customer.owner_id
    complete_step(request, outputs)


def log_interaction_step(request: UserRequest) -> None:
    customer_query, kind, summary = (_required(request, name) for name in ("customer", "kind", "summary"))
    _required(request, "author")
    session = request.session
    customer = resolve_customer(session, actor=request.actor, query=customer_query)
    log_interaction(
        session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        kind=kind,
        summary=summary,
        occurred_at=request.now().replace(tzinfo=None),
        idempotency_key=f"slack-step:{execution_id(request.body)}",
    )
    complete_step(request, {"customer_id": customer.external_id, "customer_name": customer.name})


def add_follow_up_step(request: UserRequest) -> None:
    customer_query, due = _required(request, "customer"), _required(request, "due")
    _required(request, "owner")
    due_on = _due_date(due, today=request.today())  # the owner's today: may ask Slack, so before the unit
    session = request.session
    customer = resolve_customer(session, actor=request.actor, query=customer_query)
    add_follow_up(
        session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        due_on=due_on,
        note=text_input(request.body, "note"),
        owner_id=request.user_id,
        idempotency_key=f"slack-step:{execution_id(request.body)}",
    )
    complete_step(request, {"customer_id": customer.external_id, "due_date": day(due_on)})


def _required(request: UserRequest, name: str) -> str:
    value = text_input(request.body, name)
    if not value:
        raise StepInputMissing(name)
    return value


def _due_date(text: str, *, today: dt.date) -> dt.date:
    """The day ``text`` names (``2026-12-01`` as a date input sends it, or ``tomorrow``, ``3日後``)."""
    due = resolve_when(text, today=today)
    if due is None:
        raise UsageError("usage.bad_when", {"when": text})
    if due < today:
        raise UsageError("usage.when_past", {"when": text, "date": day(due)})
    latest = latest_due_date(today=today)
    if due > latest:
        raise UsageError("usage.when_too_far", {"when": text, "date": day(due), "latest": day(latest)})
    return due


def _summary(request: UserRequest, profile: ProfileView) -> str:
    """One line a workflow's message can show: who, their segment and churn risk, open follow-ups."""
    level = profile.churn_risk.level if profile.churn_risk else None
    key = f"churn.{level}.level"
    if level is None:
        risk = request.t("step.not_scored")
    elif has_message(key):
        risk = mrkdwn_to_text(request.t(key)).strip()
    else:
        risk = request.t("step.risk_low")
    return request.t(
        "step.summary",
        name=profile.customer.name,
        external_id=profile.customer.external_id,
        segment=profile.segment or request.t("step.not_scored"),
        risk=risk,
        follow_ups=len(profile.open_follow_ups),
    )
