"""What a channel may read of a profile: facts and counts, never what anyone typed about the customer."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import log_interaction
from crm_core.models import AuditEvent, CustomerScore
from crm_core.read_models.channel_profile import DueFollowUp, TouchPoint, load_channel_profile
from tests.factories import customer

REP = Actor(user_id="U0REP", surface="slack", role="sales")
NOW = dt.datetime(2026, 11, 20, 10, 0)
TYPED = ("hanako@partner.example", "090 1234 5678", "Hanako Sato", "bought 3 printers")


def test_the_channel_view_has_masked_contacts_kinds_dates_and_counts_but_no_typed_text(
    session: Session,
) -> None:
    acme = customer(
        session,
        "Acme Inc.",
        email="taro@acme.example",
        phone="03-1111-2222",
        custom_fields={"assistant": TYPED[2]},
    )
    for hours, kind in ((1, "call"), (2, "email")):
        log_interaction(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            kind=kind,
            summary=f"Spoke with {TYPED[2]} ({TYPED[0]}, {TYPED[1]})",
            occurred_at=NOW + dt.timedelta(hours=hours),
        )
    add_follow_up(session, actor=REP, customer_external_id=acme.external_id, due_on=NOW.date(), note=TYPED[0])
    session.add(
        CustomerScore(customer_id=acme.id, scored_on=NOW.date(), churn_risk="at_risk", reason=TYPED[3])
    )
    session.flush()

    shared = load_channel_profile(session, actor=REP, external_id=acme.external_id)

    assert (shared.customer.email, shared.customer.phone) == ("t***@acme.example", "***-2222")
    assert shared.touch_points == (
        TouchPoint("email", NOW + dt.timedelta(hours=2), "U0REP"),
        TouchPoint("call", NOW + dt.timedelta(hours=1), "U0REP"),
    )
    assert (shared.interactions_logged, shared.follow_ups_due) == (2, (DueFollowUp(NOW.date(), "U0REP"),))
    assert shared.churn_level == "at_risk"
    everything = repr(dataclasses.asdict(shared))
    assert not [text for text in (*TYPED, "taro", "1111") if text in everything]
    read = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.read")).one()
    assert (read.actor, read.customer_id) == ("U0REP", acme.id)
