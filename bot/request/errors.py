"""The one place errors become messages: usage hints, domain errors, and an apology for the rest.

Bolt sends exceptions from ack functions to ``@app.error``, but only logs those from lazy listeners,
so ``bot.listeners.wiring`` routes both here. A user sees their own mistake explained in their
language; anything unexpected is an apology plus a log line with the error type and where it
happened, never a traceback in Slack and never a token or request body in the log. The apology
says nothing was saved only when nothing was: an error after a writer's unit committed (Slack
refusing its confirmation) says the action was saved, and how to check before doing it again.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.blocks.as_text import slack_to_plain
from bot.blocks.customers import candidates_title, render_candidates, render_no_match
from bot.blocks.home import render_refusal_home
from bot.blocks.limits import escape
from bot.log_lines import printable, where
from bot.messages import has_message
from bot.parsing.grammar import UsageError
from bot.request.bolt_requests import SIGNATURE_VERIFIED
from bot.request.deps import Deps
from bot.request.handlers import Declaration, Declared
from bot.request.pending import PendingChoice
from bot.request.steps import StepInputMissing, fail_step, is_step
from bot.request.units import Unit
from bot.request.user_request import UserRequest
from crm_core.errors import Ambiguous, CrmError, Forbidden, NoMatch
from crm_core.inbox.entries import AlreadyDone

log = logging.getLogger(__name__)
STALE_INPUT = "usage.stale_input"


class Busy(Exception):
    """The backlog was too long to keep the request (``bot.transport.inbox``): nothing was saved."""


def register(app: App, deps: Deps) -> None:
    @app.error
    def handle_error(
        error: Exception,
        body: dict[str, Any],
        client: WebClient,
        context: dict[str, Any],
        request: BoltRequest,
    ) -> BoltResponse:
        if request.mode != "socket_mode" and not context.get(SIGNATURE_VERIFIED):
            # bot.transport.http_server lets nothing unverified through; were something to come
            # another way, the response URL, user and channel it names are nobody's word: no reply.
            log.warning("%s on a request that was never verified: not answered", type(error).__name__)
            return BoltResponse(status=401, body="")
        # This runs before the request is acknowledged; answering the user calls Slack, so later.
        deps.executor.submit(report, error, UserRequest(deps, client, body, context))
        # Slack has what it needs: the person is told on their own channel. A 5xx would make
        # Slack show its own error beside ours and resend an event three times.
        return BoltResponse(status=200, body="")


def run_handler(declaration: Declaration, request: UserRequest) -> None:
    """Admit the asker, then run the handler in its unit of work; every error becomes a message to them.

    A reader's asker is admitted inside its unit (``UserRequest.admit_in_reader``: one transaction,
    not two), a writer's before its unit opens. What was typed is routed first either way, since the
    unit depends on it; routing reads nothing from the store, and when it fails the asker is
    admitted before the mistake is told, so someone refused is told that, whatever they typed.
    """
    try:
        declared = _routed(declaration, request)
        if declared.unit is not Unit.READS:
            request.admit()
        with request.unit_of_work(declared.unit):
            if declared.unit is Unit.READS:
                request.admit_in_reader()
            declared.handler(request)
    except AlreadyDone:
        log.info("a request another run had answered was run again: nothing changed, nothing sent")
    except Exception as error:
        if _finished_after(error, request):
            report(error, request)


def _routed(declaration: Declaration, request: UserRequest) -> Declared:
    try:
        return declaration.for_request(request)
    except Exception:
        request.admit()  # a refusal is told before a mistake in what was typed
        raise


def _finished_after(error: Exception, request: UserRequest) -> bool:
    """Mark a failed request's inbox row done before telling the person: their answer is the error.

    False when another run had answered it already (then this one says nothing). If the store
    cannot be reached the person is still told; the row, left waiting, is run again later.
    """
    if request.inbox_finished:  # this run committed its work; the error came while answering
        return True
    try:
        request.finish_inbox_entry()
    except AlreadyDone:
        return False
    except Exception as failure:
        log.error(
            "could not mark a failed request done (%s) after %s", type(failure).__name__, type(error).__name__
        )
    return True


def report(error: Exception, request: UserRequest) -> None:
    """Tell the user what went wrong, as far as they can act on it; a workflow step ends with it."""
    if is_step(request.body):
        _end_step(error, request)
        return
    if not request.user_id:  # a payload that names nobody (Slack sends none such): nobody to tell
        log.warning("%s while answering a request from no user (%s)", type(error).__name__, _kind(request))
        return
    try:
        _tell(error, request)
    except Exception as failure:
        log.error(
            "could not tell %s about %s: %s",
            printable(request.user_id),
            type(error).__name__,
            type(failure).__name__,
        )


def _end_step(error: Exception, request: UserRequest) -> None:
    """A Workflow Builder step has no one to reply to: it fails, saying what its workflow's author can fix."""
    if isinstance(error, Ambiguous | NoMatch):
        key = "step.ambiguous" if isinstance(error, Ambiguous) else "step.no_match"
        message = request.t(key, query=str(error.params.get("query", "")))
    elif isinstance(error, StepInputMissing):
        message = request.t("step.input_missing", input=error.name)
    elif isinstance(error, UsageError | CrmError):
        message = slack_to_plain(describe(error, request))
    else:
        kind, at = type(error).__name__, where(error)
        log.error("unexpected %s at %s while running a workflow step%s", kind, at, _after(request))
        saved = request.saved  # the step's work was committed: running the workflow again repeats it
        message = request.t("step.saved_unconfirmed") if saved else request.t("step.unexpected")
    try:
        fail_step(request, message)
    except Exception as failure:
        log.error("could not end a workflow step after %s: %s", type(error).__name__, type(failure).__name__)


def _tell(error: Exception, request: UserRequest) -> None:
    if isinstance(error, Forbidden) and request.on_home:  # the tab itself says it, where they look
        request.publish_home(render_refusal_home(describe(error, request)))
    elif isinstance(error, Ambiguous):
        query, language = str(error.params.get("query", "")), request.language
        pending = error.pending if isinstance(error, PendingChoice) else None
        request.reply(
            candidates_title(query, len(error.candidates), language=language),
            render_candidates(query, error.candidates, language=language, pending=pending),
        )
    elif isinstance(error, NoMatch):
        query = str(error.params.get("query", ""))
        request.reply(
            request.t(error.key or "customer.no_match", query=escape(query)),
            render_no_match(query, error.suggestions, language=request.language, contact=error.contact),
        )
    elif isinstance(error, UsageError | CrmError):
        if isinstance(error, UsageError) and error.key == STALE_INPUT:
            # Signed by Slack, but holding a value crm-bot never wrote: crafted, or a very old message.
            log.warning(
                "a %s from %s carried a button value or form metadata crm-bot did not write",
                request.body.get("type") or "request",
                printable(request.user_id),
            )
        request.reply(describe(error, request))
    elif isinstance(error, Busy):
        request.reply(request.t("error.busy"))
    else:
        log.error(
            "unexpected %s at %s while answering %s (%s)%s",
            type(error).__name__,
            where(error),
            printable(request.user_id),
            _kind(request),
            _after(request),
        )
        # After the commit the action stands: saying nothing was saved would invite doing it twice.
        saved = request.saved
        request.reply(request.t("error.saved_unconfirmed") if saved else request.t("error.unexpected"))


def _after(request: UserRequest) -> str:
    """Whether the error came after the request's writes were committed, for the log line."""
    return ", after its action was saved" if request.saved else ""


def _kind(request: UserRequest) -> str:
    """The payload's type for a log line: what the request was, without anything typed in it."""
    return printable(request.body.get("type") or "command")


def describe(error: UsageError | CrmError, request: UserRequest) -> str:
    """The error in the user's language; an error without a catalogue entry keeps its English text."""
    key = error.key
    if key is None or not has_message(key):
        message = error.message if isinstance(error, CrmError) else str(error)
        return request.t("error.untranslated", message=escape(message))
    params = {name: escape(str(value)) for name, value in error.params.items()}
    if "missing" in params:
        params["missing"] = request.t(f"part.{params['missing']}")
    return request.t(key, **params)
