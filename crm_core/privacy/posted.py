"""The bot's own Slack messages that named a customer: recorded when posted, listed when they are erased.

A thread confirmation says the customer's name, a shared card shows their profile, a digest lists
them: copies of personal data in Slack, where the store's erasure cannot reach. So wherever the bot
posts such a message it records the place (channel id and ts, never the text), in the transaction
of the action that posted it where there is one, and an erasure lists those places (with
permalinks, from the Slack layer) or has them deleted through ``chat.delete``.
Messages people wrote themselves are theirs, not the bot's: they are never recorded or deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.models import Customer, PostedMessage


class PostKind(StrEnum):
    THREAD_CONFIRMATION = "confirmation"
    SHARED_CARD = "shared_card"
    DIGEST = "digest"


@dataclass(frozen=True)
class Posted:
    """Where one recorded message is, and what it was."""

    channel_id: str
    ts: str
    kind: str
    posted_at: dt.datetime


def record_posted(
    session: Session, *, customer_external_ids: Iterable[str], channel_id: str, ts: str, kind: PostKind
) -> None:
    """Remember that the message ``ts`` in ``channel_id`` names each of these customers.

    A message recorded twice (a retried digest found already posted) is kept once, and a customer
    deleted meanwhile (merged away) is skipped: there is nobody left to erase.
    """
    wanted = set(
        session.scalars(select(Customer.id).where(Customer.external_id.in_(set(customer_external_ids))))
    )
    if not wanted:
        return
    known = set(
        session.scalars(
            select(PostedMessage.customer_id).where(
                PostedMessage.customer_id.in_(wanted),
                PostedMessage.channel_id == channel_id,
                PostedMessage.ts == ts,
            )
        )
    )
    session.add_all(
        PostedMessage(customer_id=customer_id, channel_id=channel_id, ts=ts, kind=kind.value)
        for customer_id in sorted(wanted - known)
    )
    session.flush()


def posted_naming(session: Session, *, customer_id: int) -> list[Posted]:
    """The recorded messages that named the customer, oldest first."""
    rows = session.scalars(
        select(PostedMessage)
        .where(PostedMessage.customer_id == customer_id)
        .order_by(PostedMessage.posted_at, PostedMessage.id)
    )
    return [Posted(row.channel_id, row.ts, row.kind, row.posted_at) for row in rows]


def forget_posted(session: Session, *, channel_id: str, ts: str) -> None:
    """Drop every record of a message that was deleted from Slack (it may have named several customers)."""
    session.execute(
        delete(PostedMessage).where(PostedMessage.channel_id == channel_id, PostedMessage.ts == ts)
    )
