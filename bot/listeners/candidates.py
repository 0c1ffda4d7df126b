"""Finishing ``/crm log``, ``/crm followup`` or ``@crm log`` once its customer is known.

The commands finish here at once when their customer is clear; when it is not, the candidate list
(``bot.blocks.customers.render_candidates``) carries the pending action on each button and
``pick_candidate`` finishes it with the customer chosen, replacing the list with the confirmation.
"""

from __future__ import annotations

from bot.blocks.limits import escape
from bot.blocks.pending import FOLLOW_UP, LOG, PendingAction
from bot.blocks.text import day
from bot.request.posting import confirm_in_thread
from bot.request.slack_threads import THREAD_KIND, FetchedThread, confirmation_key, fetch_thread
from bot.request.user_request import UserRequest
from crm_core.customer_view import CustomerView
from crm_core.customers.service import get_customer
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import Outcome, log_interaction


def pick_candidate(request: UserRequest) -> None:
    """A candidate's Choose button: finish what was typed with that customer.

    A thread is read again (it may have grown since the mention), and before the unit of work's
    first statement: on SQLite that statement takes the one write lock, and every other writer's
    acknowledgement would wait for Slack's answer behind it.
    """
    external_id, pending = PendingAction.decode(request.action_value)
    if pending.action in (LOG, FOLLOW_UP):
        customer = get_customer(request.session, actor=request.actor, external_id=external_id)
        finish(request, customer, pending, replace=True)
        return
    thread = fetch_thread(
        request.client, channel=pending.channel, thread_ts=pending.thread_ts, bot_user_id=request.bot_user_id
    )
    customer = get_customer(request.session, actor=request.actor, external_id=external_id)
    # A retried delivery that changed nothing tells nobody: the first delivery has answered.
    _kind, said = log_fetched_thread(request, thread, customer, confirm_unchanged=not request.is_retry)
    request.reply(said, replace=True)


def finish(
    request: UserRequest, customer: CustomerView, pending: PendingAction, *, replace: bool = False
) -> None:
    """Do ``pending`` (a log or a follow-up) for ``customer`` in the request's unit of work and
    confirm it to the asker."""
    said = (
        _log(request, customer, pending) if pending.action == LOG else _follow_up(request, customer, pending)
    )
    request.reply(said, replace=replace)


def _log(request: UserRequest, customer: CustomerView, pending: PendingAction) -> str:
    log_interaction(
        request.session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        kind=pending.kind,
        summary=pending.text,
        occurred_at=request.now().replace(tzinfo=None),
    )
    return request.t("log.done", kind=request.t(f"kind.{pending.kind}"), customer=escape(customer.name))


def _follow_up(request: UserRequest, customer: CustomerView, pending: PendingAction) -> str:
    assert pending.due_on is not None  # value_for always writes one for a follow-up
    add_follow_up(
        request.session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        due_on=pending.due_on,
        note=pending.text,
    )
    return request.t("follow_up.done", customer=escape(customer.name), due=day(pending.due_on))


def log_fetched_thread(
    request: UserRequest, thread: FetchedThread, customer: CustomerView, *, confirm_unchanged: bool
) -> tuple[str, str]:
    """Log ``thread`` to ``customer`` (one interaction per thread) and confirm it in the thread.

    The confirmation names the customer, so where it went is recorded for an erasure
    (``bot.request.posting``); it goes out after the unit of work commits. Returns the kind logged
    and what was said.
    """
    logged, outcome = log_interaction(
        request.session,
        actor=request.actor,
        customer_external_id=customer.external_id,
        kind=THREAD_KIND,
        summary=thread.text,
        occurred_at=thread.started_at,
        thread=thread.where,
    )
    said = request.t(
        confirmation_key(outcome), kind=request.t(f"kind.{logged.kind}"), customer=escape(customer.name)
    )
    if outcome is not Outcome.UNCHANGED or confirm_unchanged:
        where = thread.where
        confirm_in_thread(
            request,
            customer=customer.external_id,
            channel=where.channel_id,
            thread_ts=where.thread_ts,
            text=said,
        )
    return logged.kind, said
