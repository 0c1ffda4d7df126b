"""Adapters between Bolt's keyword-argument listeners and our handlers that take a ``UserRequest``.

- ``answered_later`` keeps the request in the store's inbox, acknowledges with nothing, and runs the
  handler after the ack (``bot.transport.inbox``): on the listener thread pool, or on worker
  processes (``bot.transport.worker_processes``). A repeat of a request already kept is acknowledged
  and ignored; when the backlog is too long the ack says the CRM is busy and nothing is kept. Errors
  are reported through ``bot.request.errors``, which Bolt would otherwise only log. The request's
  headers come along, for Slack's retry count.
- ``before_ack`` runs a handler that must answer in the ack itself (modal validation errors,
  ``external_select`` options); its errors reach ``@app.error`` as Bolt intends. Its ack is held
  until the unit of work has committed; an ack with ``errors`` rolls the unit back (a form shown
  again with its mistakes has saved nothing). Only the ack is answered on the request's thread:
  what the handler sends to Slack besides (a confirmation, a DM) goes to the listener pool once the
  ack is set, so Slack's HTTP answer never waits for a Web API call, however slow Slack is then.

Every handler comes declared a reader or a writer (``bot.request.handlers``), and both adapters
open that unit of work around it: a handler never picks ``transaction`` or ``reading`` itself.

Both first make sure the person may use crm-bot at all (``UserRequest.actor``), so a guest or an
outsider is refused politely (and the refusal audited) whatever they type or click, even where the
handler itself would show nothing personal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest
from slack_sdk import WebClient

from bot.messages import DEFAULT_LANGUAGE, t
from bot.request.deps import Deps, envelope
from bot.request.errors import Busy, report
from bot.request.handlers import Acknowledge, Declaration, DeclaredAck
from bot.request.user_request import UserRequest
from bot.transport.inbox import Outcome, hand_over
from crm_core.errors import Forbidden

log = logging.getLogger(__name__)


def acknowledge(ack: Ack) -> None:
    ack()


def answered_later(deps: Deps, handler: Declaration, *, busy_notice: bool = True) -> dict[str, Any]:
    """Bolt's listener arguments (``ack=``, ``lazy=``) to keep the request, acknowledge, and run ``handler``.

    The ack listener does it all on the thread that holds Slack's HTTP request (the app runs with
    ``process_before_response=True``): keep, ack, hand the handler over to a pool or a worker; Bolt
    answers Slack when it returns, so nothing, an event included, is acknowledged before it is
    kept. Not a Bolt lazy listener: Bolt would first deep-copy the request on that thread, before
    it answers (docs/PERFORMANCE.md, "/crm find"). ``busy_notice=False`` for what nobody
    asked for in words (the Home tab opened): a busy server then says nothing.
    """
    inbox = deps.inbox
    if inbox is None:
        raise RuntimeError("answered_later needs the app's inbox (bot.transport.inbox)")
    inbox.declare(handler)

    def run(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, request: BoltRequest
    ) -> None:
        accepted = inbox.accept(handler, envelope(body, context, request.headers))
        if accepted.outcome is Outcome.BUSY:
            _answer_busy(deps, ack, UserRequest(deps, client, body, context), notice=busy_notice)
        elif accepted.outcome is Outcome.DUPLICATE:
            ack()
        else:
            ack()
            hand_over(deps, client, handler, accepted.request, context=context)

    return {"ack": _named(handler.name, run), "lazy": []}


def _answer_busy(deps: Deps, ack: Ack, request: UserRequest, *, notice: bool) -> None:
    """Nothing was kept: a command's ack says so itself; anything else is told after its ack."""
    if "command" in request.body:
        try:
            language = deps.people.known_language(request.user_id) or DEFAULT_LANGUAGE
        except Exception:  # the store is what failed: the English text is better than none
            language = DEFAULT_LANGUAGE
        ack(text=t(language, "error.busy"))
        return
    ack()
    if notice:
        deps.executor.submit(report, Busy(), request)


def before_ack(deps: Deps, declared: DeclaredAck) -> Callable[..., None]:
    def run(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        user_request = UserRequest(deps, client, body, context)
        try:
            user_request.admit()
        except Forbidden as refused:
            # Close the modal (or offer nothing to pick); the refusal follows as a message.
            ack()
            deps.executor.submit(report, refused, user_request)
            return
        after_ack = _after_ack(deps, user_request)
        with user_request.unit_of_work(declared.unit, after_ack=after_ack):
            declared.handler(user_request, _held_until_commit(user_request, ack))

    return _named(declared.name, run)


def _held_until_commit(request: UserRequest, ack: Ack) -> Acknowledge:
    def held(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("response_action") == "errors":
            request.rollback_only = True
        request.hold_ack(lambda: ack(*args, **kwargs))

    return held


def _after_ack(deps: Deps, request: UserRequest) -> Callable[[Callable[[], None]], object]:
    """What a handler sends besides its ack, run on the listener pool; a failure is told as any other."""

    def answer(sends: Callable[[], None]) -> None:
        try:
            sends()
        except Exception as error:
            report(error, request)

    return lambda sends: deps.executor.submit(answer, sends)


def _named(name: str, listener: Callable[..., None]) -> Callable[..., None]:
    """Bolt logs (and, on FaaS, dispatches) lazy listeners by name: give it the handler's."""
    listener.__name__ = listener.__qualname__ = name
    return listener
