"""Adapters between Bolt's keyword-argument listeners and our handlers that take a ``UserRequest``.

- ``answered_later`` acknowledges at once with nothing and runs the handler after the ack: as a
  Bolt lazy listener on the listener thread pool, or, with worker processes
  (``bot.transport.worker_processes``), handed over to them by the ack listener itself. Errors are reported
  through ``bot.request.errors``, which Bolt would otherwise only log. The request's headers come along,
  for Slack's retry count.
- ``before_ack`` runs a handler that must answer in the ack itself (modal validation errors,
  ``external_select`` options); its errors reach ``@app.error`` as Bolt intends. Its ack is held
  until the unit of work has committed; an ack with ``errors`` rolls the unit back (a form shown
  again with its mistakes has saved nothing).

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

from bot.request.deps import Deps, Dispatcher, envelope
from bot.request.errors import report, run_handler
from bot.request.handlers import Acknowledge, Declaration, DeclaredAck
from bot.request.user_request import UserRequest
from crm_core.errors import Forbidden

log = logging.getLogger(__name__)


def acknowledge(ack: Ack) -> None:
    ack()


def answered_later(deps: Deps, handler: Declaration) -> dict[str, Any]:
    """Bolt's listener arguments (``ack=``, ``lazy=``) to acknowledge now and run ``handler`` after.

    With worker processes the ack listener acks, then hands the request over on its own thread. As
    a lazy listener it would first be deep-copied by Bolt on the thread that holds Slack's HTTP
    request, before that thread answers; with the work itself elsewhere, that copy was most of what
    an ack cost beyond the framework's floor (docs/PERFORMANCE.md, "/crm find").
    """
    if deps.workers is None:
        return {"ack": acknowledge, "lazy": [_lazily(deps, handler)]}
    return {"ack": _handed_over(deps, deps.workers, handler), "lazy": []}


def _lazily(deps: Deps, handler: Declaration) -> Callable[..., None]:
    def run(body: dict[str, Any], client: WebClient, context: BoltContext, request: BoltRequest) -> None:
        run_handler(handler, UserRequest(deps, client, body, context, request.headers))

    return _named(handler.name, run)


def _handed_over(deps: Deps, workers: Dispatcher, handler: Declaration) -> Callable[..., None]:
    def run(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, request: BoltRequest
    ) -> None:
        ack()
        try:
            workers.submit(handler, envelope(body, context, request.headers))
        except Exception as error:
            # Nothing may leave an ack listener after ack(): Bolt would take the ack back, and Slack
            # would show the user a timeout. Without workers (shut down, or new ones failing to
            # start) the request is answered here, as it is when none are configured.
            log.error(
                "could not hand a request to a worker process (%s): answering it here", type(error).__name__
            )
            run_handler(handler, UserRequest(deps, client, body, context, request.headers))

    return _named(handler.name, run)


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
        with user_request.unit_of_work(declared.unit):
            declared.handler(user_request, _held_until_commit(user_request, ack))

    return _named(declared.name, run)


def _held_until_commit(request: UserRequest, ack: Ack) -> Acknowledge:
    def held(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("response_action") == "errors":
            request.rollback_only = True
        request.send(lambda: ack(*args, **kwargs))

    return held


def _named(name: str, listener: Callable[..., None]) -> Callable[..., None]:
    """Bolt logs (and, on FaaS, dispatches) lazy listeners by name: give it the handler's."""
    listener.__name__ = listener.__qualname__ = name
    return listener
