"""The profile as a channel may read it: what a card shared with "Share to channel" is built from.

A channel can hold guests and members of other organisations (Slack Connect), none of whom may see
customer data. So the shared card carries facts only, never free text: e-mail and phone masked
(``crm_core.masking``), no custom fields, each recent interaction as its kind, date and
author, each open follow-up as its due date and owner, and counts. Summaries and notes are left
out rather than masked, because what a person typed can name anyone in any form (a name, a second
address, a number written with spaces) and no pattern catches them all; the thread links go too,
as they lead to what was said. The churn reason is left out as well (it can state purchase
timing, which a channel may not see); revenue is not here at all. The types hold no field for
any of it (but the customer's custom fields, emptied), so no renderer can show it by mistake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.masking import masked_customer
from crm_core.models import Interaction
from crm_core.read_models.profile import ProfileView, load_profile


@dataclass(frozen=True)
class TouchPoint:
    """An interaction without what was said in it."""

    kind: str
    occurred_at: dt.datetime
    author: str | None


@dataclass(frozen=True)
class DueFollowUp:
    """An open follow-up without its note."""

    due_on: dt.date
    owner_id: str | None


@dataclass(frozen=True)
class ChannelProfile:
    """``customer`` has e-mail and phone masked and no custom fields; ``churn_level`` is None when
    there is no risk to show."""

    customer: CustomerView
    segment: str | None
    churn_level: str | None
    touch_points: tuple[TouchPoint, ...]
    interactions_logged: int
    follow_ups_due: tuple[DueFollowUp, ...]


def channel_profile(profile: ProfileView, *, interactions_logged: int) -> ChannelProfile:
    """What of ``profile`` a channel may read (see the module docstring)."""
    customer = profile.customer
    risk = profile.churn_risk
    return ChannelProfile(
        customer=masked_customer(customer),
        segment=profile.segment,
        churn_level=risk.level if risk is not None and risk.level != "ok" else None,
        touch_points=tuple(TouchPoint(i.kind, i.occurred_at, i.author) for i in profile.recent_interactions),
        interactions_logged=interactions_logged,
        follow_ups_due=tuple(DueFollowUp(f.due_on, f.owner_id) for f in profile.open_follow_ups),
    )


def load_channel_profile(session: Session, *, actor: Actor, external_id: str) -> ChannelProfile:
    """The card ``actor`` shares in a channel: read (and audited) as theirs, then cut for the channel."""
    profile = load_profile(session, actor=actor, external_id=external_id)
    logged = session.scalar(
        select(func.count()).select_from(Interaction).where(Interaction.customer_id == profile.customer.id)
    )
    return channel_profile(profile, interactions_logged=logged or 0)
