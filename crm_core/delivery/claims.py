"""Exactly-once posting across replicas: a claim row per message, taken before posting.

A digest (one recipient, one day) and an alert (one event, one channel) are each a message that
several replicas, restarts and manual runs may all try to post. The claim is committed in its own
transaction before anything is sent, so concurrent senders see it and step back. A claim whose
sender died is taken over after ``STALE_CLAIM`` by compare-and-swap on (status, attempts), so only
one taker wins. Before posting again, the taker must look in Slack for a message carrying the claim
key (the sender may have died after posting but before recording it): see ``bot.jobs.digests`` and
``bot.jobs.alerts``. The tables share their claim columns (``crm_core.models.ClaimColumns``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.models import AlertDelivery, DigestDelivery

STALE_CLAIM = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8

ClaimTable = type[DigestDelivery] | type[AlertDelivery]


@dataclass(frozen=True)
class Taken:
    """A claim this worker holds. ``retaken`` means an earlier attempt may have posted the message."""

    row_id: int
    claim_key: str
    attempt: int
    retaken: bool


def take_claim(
    session: Session,
    table: ClaimTable,
    *,
    claim_key: str,
    values: Mapping[str, Any],
    worker: str,
    now: dt.datetime,
) -> Taken | None:
    """Claim the message ``claim_key`` (a new row carries ``values``), or None when it is sent, given
    up, or being sent by someone else. Call in a transaction of its own and commit before posting."""
    try:
        with session.begin_nested():
            row_id = session.scalars(
                insert(table)
                .values(
                    claim_key=claim_key,
                    status="claimed",
                    claimed_by=worker,
                    claimed_at=now,
                    attempts=1,
                    **values,
                )
                .returning(table.id)
            ).one()
        return Taken(row_id, claim_key, 1, retaken=False)
    except IntegrityError:
        pass
    existing = session.execute(
        select(table.id, table.status, table.attempts, table.claimed_at).where(table.claim_key == claim_key)
    ).one()
    if existing.status == "sent" or existing.attempts >= MAX_ATTEMPTS:
        return None
    if existing.status == "claimed" and now - existing.claimed_at < STALE_CLAIM:
        return None
    taken = session.execute(
        update(table)
        .where(
            table.id == existing.id,
            table.status == existing.status,
            table.attempts == existing.attempts,
        )
        .values(status="claimed", claimed_by=worker, claimed_at=now, attempts=existing.attempts + 1)
        .returning(table.id)
    ).first()
    if taken is None:
        return None
    return Taken(existing.id, claim_key, existing.attempts + 1, retaken=True)


def mark_claim_sent(
    session: Session, table: ClaimTable, *, row_id: int, slack_ts: str, now: dt.datetime
) -> None:
    session.execute(
        update(table)
        .where(table.id == row_id)
        .values(status="sent", slack_ts=slack_ts, sent_at=now, last_error=None)
    )


def mark_claim_failed(session: Session, table: ClaimTable, *, row_id: int, error: str) -> None:
    """Release the claim so a later tick retries; ``error`` is a Slack error code, never a secret."""
    session.execute(
        update(table)
        .where(table.id == row_id, table.status == "claimed")
        .values(status="failed", last_error=error[:200])
    )


def settled(table: ClaimTable) -> ColumnElement[bool]:
    """Rows of messages sent, or given up after ``MAX_ATTEMPTS``: nothing more to do for them."""
    return (table.status == "sent") | (table.attempts >= MAX_ATTEMPTS)
