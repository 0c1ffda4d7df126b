"""Digest claims: one sender per (recipient, local date), even with many concurrent senders."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_core.digest.deliveries import STALE_CLAIM, claim_delivery, mark_failed, mark_sent
from crm_core.models import DigestDelivery
from crm_core.store import transaction

DAY = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 0, 5)


def test_second_claim_is_refused_while_the_first_is_fresh(session: Session) -> None:
    first = claim_delivery(session, recipient_id="U1", local_date=DAY, worker="a", now=NOW)
    assert first is not None and not first.retaken
    assert claim_delivery(session, recipient_id="U1", local_date=DAY, worker="b", now=NOW) is None
    assert claim_delivery(
        session, recipient_id="U1", local_date=DAY + dt.timedelta(days=1), worker="b", now=NOW
    )


def test_a_sent_digest_is_never_claimed_again(session: Session) -> None:
    claim = claim_delivery(session, recipient_id="U1", local_date=DAY, worker="a", now=NOW)
    assert claim is not None
    mark_sent(session, claim=claim, slack_ts="1.2", now=NOW)
    later = NOW + STALE_CLAIM * 10
    assert claim_delivery(session, recipient_id="U1", local_date=DAY, worker="b", now=later) is None


def test_a_failed_or_abandoned_claim_is_retaken_once(session: Session) -> None:
    claim = claim_delivery(session, recipient_id="U1", local_date=DAY, worker="a", now=NOW)
    assert claim is not None
    mark_failed(session, claim=claim, error="ratelimited")
    retry = claim_delivery(session, recipient_id="U1", local_date=DAY, worker="b", now=NOW)
    assert retry is not None and retry.retaken and retry.attempt == 2
    assert claim_delivery(session, recipient_id="U1", local_date=DAY, worker="c", now=NOW) is None
    abandoned_for = NOW + STALE_CLAIM + dt.timedelta(seconds=1)
    takeover = claim_delivery(session, recipient_id="U1", local_date=DAY, worker="c", now=abandoned_for)
    assert takeover is not None and takeover.attempt == 3


def test_concurrent_senders_get_exactly_one_claim(engine: Engine) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def sender(name: str) -> None:
        barrier.wait()
        with transaction(engine) as session:
            if claim_delivery(session, recipient_id="U1", local_date=DAY, worker=name, now=NOW):
                winners.append(name)

    threads = [threading.Thread(target=sender, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(DigestDelivery)) == 1
