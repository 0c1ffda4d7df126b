"""Alerts the daily scoring finds: a VIP newly at churn risk, and a customer who came back.

Both are changes between the scores kept before and the day's new ones, so they are read in the
scoring's own transaction, right before the old scores are replaced (``store_scores``). The first
scoring of a store has nothing to compare with and announces nothing.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.alerts.events import record_event
from crm_core.alerts.topics import Topic
from crm_core.models import Customer, CustomerScore

_CHUNK = 10_000  # ids per IN list, well under every database's limit on bound parameters
OK = "ok"  # crm_core.analytics.churn.OK, not imported: the alerts need not load the analytics


class ScoreChanges:
    """What the kept scores said before a scoring run, as far as alerts need it."""

    def __init__(self, session: Session) -> None:
        self.first_run = session.scalar(select(CustomerScore.customer_id).limit(1)) is None
        flagged = session.execute(
            select(CustomerScore.customer_id, CustomerScore.vip).where(CustomerScore.churn_risk != OK)
        ).all()
        self.flagged = {customer_id for customer_id, _vip in flagged}
        self.vips_flagged = {customer_id for customer_id, vip in flagged if vip}

    def record(self, session: Session, *, scores: pd.DataFrame) -> None:
        """Record the events of the new ``scores`` (indexed by customer id, as ``store_scores`` takes)."""
        if self.first_run:
            return
        known = scores[scores["churn_risk"].notna()]
        risk = known["churn_risk"].astype(str)
        at_risk = risk != OK
        vip_risk = [
            int(c) for c in known.index[at_risk & known["vip"].astype(bool)] if c not in self.vips_flagged
        ]
        won_back = [int(c) for c in known.index[~at_risk] if c in self.flagged]
        for topic, customer_ids in ((Topic.VIP_RISK, vip_risk), (Topic.WON_BACK, won_back)):
            owners = _owners(session, customer_ids)
            for customer_id in customer_ids:
                detail = {"churn_risk": str(risk[customer_id])} if topic is Topic.VIP_RISK else {}
                record_event(
                    session,
                    topic=topic,
                    customer_id=customer_id,
                    owner_id=owners.get(customer_id),
                    detail=detail,
                )


def _owners(session: Session, customer_ids: list[int]) -> dict[int, str | None]:
    owners: dict[int, str | None] = {}
    for start in range(0, len(customer_ids), _CHUNK):
        chunk = customer_ids[start : start + _CHUNK]
        rows = session.execute(select(Customer.id, Customer.owner_id).where(Customer.id.in_(chunk)))
        owners.update({customer_id: owner for customer_id, owner in rows})
    return owners
