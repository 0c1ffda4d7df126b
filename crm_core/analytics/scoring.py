"""Daily scoring, a job of its own: every customer's scores as of a date, kept for the profile card.

Load, score and store run in the caller's one transaction, so the kept scores describe one
snapshot of the store. The scheduler calls ``score_if_due`` on every tick in every replica;
``crm-bot analytics score`` and an import of purchases call ``score_now``.

Exactly once a day across replicas, by a lock and the date of the kept scores rather than by a
claim row: a scoring run first takes a lock that only scoring runs take (on PostgreSQL a
transaction-scoped advisory lock, so readers of the scores and the cascades of an erase never wait
for it; on SQLite the one write lock, which ``transaction`` holds from BEGIN IMMEDIATE), and only
then looks at the date of the kept scores. ``score_if_due`` leaves the day to a run that holds the
lock (it does not wait) and does nothing when that day's scores are kept; a run that failed kept
nothing, so the next tick scores. Digests need a claim row because a post to Slack cannot be rolled
back; scoring changes only the store, so its transaction is the whole unit of work. An upsert keyed
by date would also be safe, but would let two replicas spend the same minute scoring.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from crm_core.analytics.churn import OK
from crm_core.analytics.load import load_histories
from crm_core.analytics.reasons import NO_REASONS, churn_reasons
from crm_core.analytics.scores import score_histories
from crm_core.analytics.stored import StoredScore, scores_stored_on, store_scores
from crm_core.models import Interaction, Purchase

# The advisory lock's key: any constant no other part of crm-bot uses ("crmscore" in ASCII).
SCORING_LOCK = 0x63726D73636F7265


class Outcome(enum.Enum):
    SCORED = "scored"
    ALREADY_SCORED = "already_scored"  # the scores of that day (or a later one) are kept
    RUNNING_ELSEWHERE = "running_elsewhere"  # another process holds the lock: it scores the day


@dataclass(frozen=True)
class ScoringRun:
    scored_on: dt.date
    outcome: Outcome
    customers: int = 0  # customers whose scores were kept


def score_if_due(session: Session, *, today: dt.date) -> ScoringRun:
    """Score as of ``today`` unless that day's scores are kept or another process is scoring now."""
    if not _lock(session, wait=False):
        return ScoringRun(today, Outcome.RUNNING_ELSEWHERE)
    stored_on = scores_stored_on(session)
    if stored_on is not None and stored_on >= today:
        return ScoringRun(today, Outcome.ALREADY_SCORED)
    return _score(session, today)


def score_now(session: Session, *, today: dt.date) -> ScoringRun:
    """Score as of ``today`` even if that day was scored (the data changed: an import, a request),
    after any run in progress has finished."""
    _lock(session, wait=True)
    return _score(session, today)


def scores_as_of(session: Session, *, today: dt.date) -> pd.DataFrame:
    """Every customer's scores as of ``today``, computed now and kept nowhere (indexed by customer_id)."""
    prepared = load_histories(session, today=today)
    (purchases, fits), contacts = prepared.purchases, prepared.contacts
    return score_histories(prepared.customers, purchases, contacts, fits, today)


def score_before_any_scoring(session: Session, *, customer_id: int, today: dt.date) -> StoredScore | None:
    """One customer's scores as of ``today``, computed now, for a store that no run has scored yet.

    Segments, VIPs and the churn model are judged against every customer, so this scores them all
    and keeps none (a read must not write); once a run has kept scores, cards read those instead.
    None once scores are kept, or for a customer the store's snapshot does not hold yet.
    """
    if scores_stored_on(session) is not None:
        return None
    if not _has_history(session, customer_id, today):
        return _without_history(today)
    scores = scores_as_of(session, today=today)
    if customer_id not in scores.index:
        return None
    row: dict[Any, Any] = scores.loc[customer_id].to_dict()
    if pd.isna(row["churn_risk"]):  # never kept either: see ``store_scores``
        return None
    return StoredScore(
        scored_on=today,
        segment=None if pd.isna(row["segment"]) else str(row["segment"]),
        vip=bool(row["vip"]),
        churn_risk=str(row["churn_risk"]),
        reasons=churn_reasons(row),
        next_step_key="" if pd.isna(row["next_step_key"]) else str(row["next_step_key"]),
    )


def _has_history(session: Session, customer_id: int, today: dt.date) -> bool:
    """Whether the customer bought or was contacted by the end of ``today``."""
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    return any(
        session.scalar(select(exists().where(table.customer_id == customer_id, table.occurred_at < end)))
        for table in (Purchase, Interaction)
    )


def _without_history(today: dt.date) -> StoredScore:
    """What scoring every customer gives one who never bought and was never contacted: no segment,
    no VIP, ``ok`` with no reason, no next step. Said here instead of scoring the whole store
    (seconds at a million customers) for the card of a customer just added; a test compares it
    with the kept scores of a scoring run."""
    return StoredScore(
        scored_on=today, segment=None, vip=False, churn_risk=OK, reasons=NO_REASONS, next_step_key=""
    )


def _score(session: Session, today: dt.date) -> ScoringRun:
    kept = store_scores(session, scores=scores_as_of(session, today=today), scored_on=today)
    return ScoringRun(today, Outcome.SCORED, kept)


def _lock(session: Session, *, wait: bool) -> bool:
    """Take the scoring lock until the transaction ends; False when ``wait`` is off and it is taken."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(text("SELECT 1"))  # SQLite: the transaction's write lock is taken at BEGIN
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    taken = session.scalar(text(f"SELECT {function}(:key)"), {"key": SCORING_LOCK})
    return wait or bool(taken)
