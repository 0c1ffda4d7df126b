"""Alert events recorded with what caused them: the scoring's changes, support cases, new customers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.alerts.subscriptions import subscribe
from crm_core.alerts.topics import Topic
from crm_core.analytics.reasons import STORED_FACTS
from crm_core.analytics.stored import store_scores
from crm_core.campaigns.lists import campaign_list
from crm_core.interactions.service import log_interaction
from crm_core.models import AlertEvent
from tests.factories import customer

TODAY = dt.date(2026, 3, 4)
OPERATOR = Actor("cli:admin", "cli")


def scores(rows: dict[int, tuple[bool, str]]) -> pd.DataFrame:
    ids = list(rows)
    return pd.DataFrame(
        {
            "segment": ["Champions"] * len(ids),
            "rfm_score": ["555"] * len(ids),
            "vip": [rows[i][0] for i in ids],
            "churn_risk": [rows[i][1] for i in ids],
            "next_step_key": [""] * len(ids),
            "p_alive": [0.5] * len(ids),
        },
        index=pd.Index(ids, name="customer_id"),
    ).assign(**{name: "" if name == "reason_key" else float("nan") for name in STORED_FACTS})


def events(session: Session) -> list[tuple[str, int, str | None]]:
    rows = session.execute(
        select(AlertEvent.topic, AlertEvent.customer_id, AlertEvent.owner_id).order_by(AlertEvent.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_scoring_records_vips_newly_at_risk_and_customers_won_back_once(session: Session) -> None:
    vip = customer(session, "Vip Co", owner_id="U0OWNER").id
    lapsed = customer(session, "Lapsed Co").id
    steady = customer(session, "Steady Co").id
    before = len(events(session))  # the three new customers
    first = scores({vip: (True, "ok"), lapsed: (False, "churned"), steady: (False, "ok")})
    store_scores(session, scores=first, scored_on=TODAY)
    assert len(events(session)) == before  # the first scoring has nothing to compare with
    store_scores(
        session,
        scores=scores({vip: (True, "at_risk"), lapsed: (False, "ok"), steady: (False, "ok")}),
        scored_on=TODAY + dt.timedelta(days=1),
    )
    store_scores(
        session,
        scores=scores({vip: (True, "churned"), lapsed: (False, "ok"), steady: (False, "ok")}),
        scored_on=TODAY + dt.timedelta(days=2),
    )
    assert events(session)[before:] == [("vip-risk", vip, "U0OWNER"), ("won-back", lapsed, None)]
    listed = campaign_list(session, actor=OPERATOR, name="won-back", today=TODAY + dt.timedelta(days=2))
    assert [row[1] for row in listed.rows] == ["Lapsed Co"]


def test_a_support_case_and_a_new_customer_are_events_other_kinds_are_not(session: Session) -> None:
    subscribe(session, actor=OPERATOR, channel_id="C1", topic=Topic.SUPPORT, owner_id=None, language="en")
    made = customer(session, "Acme", owner_id="U0REP")
    for kind in ("call", "support"):
        log_interaction(
            session,
            actor=OPERATOR,
            customer_external_id=made.external_id,
            kind=kind,
            summary="hello",
            occurred_at=dt.datetime(2026, 3, 4, 9),
        )
    assert events(session) == [("new-customer", made.id, "U0REP"), ("support", made.id, "U0REP")]
    [support] = session.scalars(select(AlertEvent).where(AlertEvent.topic == "support"))
    assert support.detail == {"author": "cli:admin"}  # never the summary
