"""Everything the profile card shows about one customer, read in one go as plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, can
from crm_core.actor import Actor
from crm_core.analytics.reasons import Reason
from crm_core.analytics.scoring import score_before_any_scoring
from crm_core.analytics.stored import latest_score
from crm_core.customer_view import CustomerView
from crm_core.customers.service import get_customer
from crm_core.follow_ups.service import FollowUpView, open_follow_ups
from crm_core.interactions.service import InteractionView, recent_interactions
from crm_core.models import Purchase

RECENT_INTERACTIONS = 5


@dataclass(frozen=True)
class PurchaseSummary:
    count: int
    totals: tuple[tuple[str, Decimal], ...]  # (currency, total), one per currency, largest count first
    last_at: dt.datetime | None


@dataclass(frozen=True)
class ChurnRisk:
    """A level of ``crm_core.analytics.churn.RISK_LEVELS`` and the reason a person can check, as
    message keys with parameters, without purchase facts for a viewer who may not see purchases."""

    level: str
    reason: Reason


@dataclass(frozen=True)
class ProfileView:
    """The customer, their latest touch points, open follow-ups and purchases.

    ``segment`` and ``churn_risk`` come from analytics and are None until those are computed.
    ``purchases`` is None for a viewer whose role may not see revenue (support): left out, not
    zeroed, so no card can claim "no purchases yet" about a customer who has some.
    """

    customer: CustomerView
    recent_interactions: tuple[InteractionView, ...]
    open_follow_ups: tuple[FollowUpView, ...]
    purchases: PurchaseSummary | None
    segment: str | None = None
    churn_risk: ChurnRisk | None = None


def load_profile(
    session: Session, *, actor: Actor, external_id: str, today: dt.date | None = None
) -> ProfileView:
    """The profile of one customer as ``actor``'s role may see it; audited like any read of a customer.

    ``today`` is the viewer's date: before any scoring run has kept scores, the customer's segment
    and churn risk are computed as of it (a card shown right after the first import has them).
    Without it, they come only from kept scores.
    """
    customer = get_customer(session, actor=actor, external_id=external_id)
    revenue = can(actor, Permission.READ_REVENUE)
    return ProfileView(
        customer=customer,
        recent_interactions=tuple(
            recent_interactions(session, customer_id=customer.id, limit=RECENT_INTERACTIONS)
        ),
        open_follow_ups=tuple(open_follow_ups(session, actor=actor, customer_id=customer.id)),
        purchases=purchase_summary(session, customer_id=customer.id) if revenue else None,
        **_analytics(session, customer.id, sees_purchases=revenue, today=today),
    )


def _analytics(
    session: Session, customer_id: int, *, sees_purchases: bool, today: dt.date | None
) -> dict[str, Any]:
    """Segment and churn risk from the kept scores, or computed as of ``today`` before any are kept."""
    score = latest_score(session, customer_id=customer_id)
    if score is None and today is not None:
        score = score_before_any_scoring(session, customer_id=customer_id, today=today)
    if score is None:
        return {}
    reason = score.reasons.for_viewer(sees_purchases=sees_purchases)
    return {"segment": score.segment, "churn_risk": ChurnRisk(score.churn_risk, reason)}


def purchase_summary(session: Session, *, customer_id: int) -> PurchaseSummary:
    rows = session.execute(
        select(Purchase.currency, func.count(), func.sum(Purchase.amount), func.max(Purchase.occurred_at))
        .where(Purchase.customer_id == customer_id)
        .group_by(Purchase.currency)
        .order_by(func.count().desc(), Purchase.currency)
    ).all()
    return PurchaseSummary(
        count=sum(row[1] for row in rows),
        totals=tuple((row[0], Decimal(row[2])) for row in rows),
        last_at=max((row[3] for row in rows), default=None),
    )
