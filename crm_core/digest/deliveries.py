"""Exactly-once digests across replicas: a claim row per (recipient, local date), taken before posting.

How claims work is ``crm_core.delivery.claims``; this module names a digest's claim and lists the
digests that need nothing more. Before posting a retaken claim, the DM is searched for it: see
``bot.jobs.digests``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.delivery.claims import (
    MAX_ATTEMPTS,
    STALE_CLAIM,
    mark_claim_failed,
    mark_claim_sent,
    settled,
    take_claim,
)
from crm_core.models import DigestDelivery

__all__ = [
    "MAX_ATTEMPTS",
    "STALE_CLAIM",
    "Claim",
    "claim_delivery",
    "claim_key",
    "mark_failed",
    "mark_sent",
    "settled_deliveries",
]


@dataclass(frozen=True)
class Claim:
    """A digest this worker may now send. ``retaken`` means an earlier attempt may have posted it."""

    delivery_id: int
    claim_key: str
    recipient_id: str
    local_date: dt.date
    attempt: int
    retaken: bool


def claim_key(recipient_id: str, local_date: dt.date) -> str:
    return f"digest:{recipient_id}:{local_date.isoformat()}"


def claim_delivery(
    session: Session, *, recipient_id: str, local_date: dt.date, worker: str, now: dt.datetime
) -> Claim | None:
    """Claim the digest for sending, or return None when it is sent or someone else is sending it.

    Call in a transaction of its own and commit before posting.
    """
    taken = take_claim(
        session,
        DigestDelivery,
        claim_key=claim_key(recipient_id, local_date),
        values={"recipient_id": recipient_id, "local_date": local_date},
        worker=worker,
        now=now,
    )
    if taken is None:
        return None
    return Claim(taken.row_id, taken.claim_key, recipient_id, local_date, taken.attempt, taken.retaken)


def mark_sent(session: Session, *, claim: Claim, slack_ts: str, now: dt.datetime) -> None:
    mark_claim_sent(session, DigestDelivery, row_id=claim.delivery_id, slack_ts=slack_ts, now=now)


def mark_failed(session: Session, *, claim: Claim, error: str) -> None:
    """Release the claim so a later tick retries; ``error`` is a Slack error code, never a secret."""
    mark_claim_failed(session, DigestDelivery, row_id=claim.delivery_id, error=error)


def settled_deliveries(session: Session, *, since: dt.date) -> set[tuple[str, dt.date]]:
    """(recipient, local date) of digests sent, or given up after ``MAX_ATTEMPTS``, since a day."""
    rows = session.execute(
        select(DigestDelivery.recipient_id, DigestDelivery.local_date).where(
            DigestDelivery.local_date >= since, settled(DigestDelivery)
        )
    )
    return {(recipient, day) for recipient, day in rows}
