"""Exactly-once digests across replicas: a claim row per (recipient, local date), taken before posting.

The claim is committed in its own transaction before anything is sent, so concurrent senders (other
replicas, a manual ``crm-bot digest --send``) see it and step back. A claim whose sender died is
taken over after ``STALE_CLAIM`` by compare-and-swap on (status, claimed_at, attempts), so only one
taker wins. Before posting again, the taker must look in Slack for a message carrying the claim
key (the sender may have died after posting but before recording it): see ``bot.jobs.digests``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.models import DigestDelivery

STALE_CLAIM = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8


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
    key = claim_key(recipient_id, local_date)
    try:
        with session.begin_nested():
            delivery_id = session.scalars(
                insert(DigestDelivery)
                .values(
                    claim_key=key,
                    recipient_id=recipient_id,
                    local_date=local_date,
                    status="claimed",
                    claimed_by=worker,
                    claimed_at=now,
                    attempts=1,
                )
                .returning(DigestDelivery.id)
            ).one()
        return Claim(delivery_id, key, recipient_id, local_date, 1, retaken=False)
    except IntegrityError:
        pass
    existing = session.execute(
        select(
            DigestDelivery.id, DigestDelivery.status, DigestDelivery.attempts, DigestDelivery.claimed_at
        ).where(DigestDelivery.claim_key == key)
    ).one()
    if existing.status == "sent" or existing.attempts >= MAX_ATTEMPTS:
        return None
    if existing.status == "claimed" and now - existing.claimed_at < STALE_CLAIM:
        return None
    taken = session.execute(
        update(DigestDelivery)
        .where(
            DigestDelivery.id == existing.id,
            DigestDelivery.status == existing.status,
            DigestDelivery.attempts == existing.attempts,
        )
        .values(status="claimed", claimed_by=worker, claimed_at=now, attempts=existing.attempts + 1)
        .returning(DigestDelivery.id)
    ).first()
    if taken is None:
        return None
    return Claim(existing.id, key, recipient_id, local_date, existing.attempts + 1, retaken=True)


def mark_sent(session: Session, *, claim: Claim, slack_ts: str, now: dt.datetime) -> None:
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id)
        .values(status="sent", slack_ts=slack_ts, sent_at=now, last_error=None)
    )


def mark_failed(session: Session, *, claim: Claim, error: str) -> None:
    """Release the claim so a later tick retries; ``error`` is a Slack error code, never a secret."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id, DigestDelivery.status == "claimed")
        .values(status="failed", last_error=error[:200])
    )


def settled_deliveries(session: Session, *, since: dt.date) -> set[tuple[str, dt.date]]:
    """(recipient, local date) of digests sent, or given up after ``MAX_ATTEMPTS``, since a day."""
    rows = session.execute(
        select(DigestDelivery.recipient_id, DigestDelivery.local_date).where(
            DigestDelivery.local_date >= since,
            (DigestDelivery.status == "sent") | (DigestDelivery.attempts >= MAX_ATTEMPTS),
        )
    )
    return {(recipient, day) for recipient, day in rows}
