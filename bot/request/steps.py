"""Workflow Builder steps (Slack's custom functions): who a step acts as, and how it is ended.

A ``function_executed`` event names no user: the step acts as the person its workflow put in its
``author`` or ``owner`` input, with that person's role, refused like them when they are a guest or
from another organisation. ``find_customer`` may name nobody (its ``asked_by`` input is optional):
it then reads as ``WORKFLOW_ACTOR``, with the least a role may see. Every step ends with
``functions.completeSuccess`` (its outputs) or ``functions.completeError`` (a sentence a workflow's
author can act on); one that ends with neither hangs in Slack until it times out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crm_core.actor import Actor

if TYPE_CHECKING:
    from bot.request.user_request import UserRequest

FUNCTION_EXECUTED = "function_executed"
# The input naming the person each step acts as: by callback id.
ACTING_INPUT = {"find_customer": "asked_by", "log_interaction": "author", "add_follow_up": "owner"}
# A step that names nobody reads as the workflow itself, with the role that sees least.
WORKFLOW_ACTOR = Actor(user_id="workflow", surface="slack", role="support")
ACTS_WITHOUT_PERSON = frozenset({"find_customer"})


class StepInputMissing(Exception):
    """A required input of the step arrived empty (its workflow maps it to nothing, or to "")."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def step_event(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``function_executed`` event in ``body``, if that is what it carries."""
    event = body.get("event")
    if isinstance(event, Mapping) and event.get("type") == FUNCTION_EXECUTED:
        return event
    return None


def is_step(body: Mapping[str, Any]) -> bool:
    return step_event(body) is not None


def callback_id(body: Mapping[str, Any]) -> str:
    event = step_event(body) or {}
    return str((event.get("function") or {}).get("callback_id") or "")


def inputs(body: Mapping[str, Any]) -> dict[str, Any]:
    event = step_event(body) or {}
    given = event.get("inputs")
    return dict(given) if isinstance(given, Mapping) else {}


def text_input(body: Mapping[str, Any], name: str) -> str:
    value = inputs(body).get(name)
    return value.strip() if isinstance(value, str) else ""


def acting_user(body: Mapping[str, Any]) -> str:
    """The Slack user id the step acts as: its ``author``/``owner``/``asked_by`` input, or ""."""
    return text_input(body, ACTING_INPUT.get(callback_id(body), ""))


def personless_actor(body: Mapping[str, Any]) -> Actor | None:
    """``WORKFLOW_ACTOR`` for a step that names nobody and may run so; None otherwise."""
    if is_step(body) and not acting_user(body) and callback_id(body) in ACTS_WITHOUT_PERSON:
        return WORKFLOW_ACTOR
    return None


def execution_id(body: Mapping[str, Any]) -> str:
    event = step_event(body) or {}
    return str(event.get("function_execution_id") or "")


def complete_step(request: UserRequest, outputs: Mapping[str, Any]) -> None:
    """End the step with ``outputs``, once the handler's unit of work has committed."""
    fx = execution_id(request.body)
    done = dict(outputs)
    request.send(lambda: request.client.functions_completeSuccess(function_execution_id=fx, outputs=done))


def fail_step(request: UserRequest, message: str) -> None:
    """End the step with ``message``, now: the error handler calls it after the unit has rolled back."""
    request.client.functions_completeError(function_execution_id=execution_id(request.body), error=message)
