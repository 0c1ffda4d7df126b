"""Resolving a command's customer so that, when the name is unclear, what was typed is kept.

``/crm log``, ``/crm followup`` and ``@crm log`` resolve their customer through ``resolve_for``: an
ambiguous name becomes ``PendingChoice``, the same ``Ambiguous`` error carrying the pending action,
which the error handler (``bot.request.errors``) shows as candidates whose buttons finish it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.blocks.pending import PendingAction
from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.errors import Ambiguous
from crm_core.identity.search import resolve_customer


class PendingChoice(Ambiguous):
    """Several customers may be meant; ``pending`` is what to do with the one picked."""

    def __init__(self, error: Ambiguous, pending: PendingAction) -> None:
        super().__init__(error.message, error.candidates, query=str(error.params.get("query", "")))
        self.pending = pending


def resolve_for(session: Session, *, actor: Actor, query: str, pending: PendingAction) -> CustomerView:
    """The one customer ``query`` means; if unclear, ``PendingChoice`` keeps ``pending`` for the pick."""
    try:
        return resolve_customer(session, actor=actor, query=query)
    except Ambiguous as error:
        raise PendingChoice(error, pending) from error
