"""Digest content with a frozen date: who sees what, in which order, and what counts as new."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.digest.content import ITEMS_PER_SECTION, SectionCounts, digest_for, take_snapshot
from crm_core.follow_ups.service import add_follow_up
from crm_core.models import Purchase
from crm_core.team.service import MemberView, add_member, get_member
from tests.factories import TEST_ACTOR, customer

TODAY = dt.date(2026, 11, 25)
REP_A = Actor(user_id="U0REPA", surface="slack", role="sales")
REP_B = Actor(user_id="U0REPB", surface="slack", role="sales")


def _buy(session: Session, customer_id: int, *days_ago: int, amount: int = 1000) -> None:
    for days in days_ago:
        when = dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(12))
        session.add(Purchase(customer_id=customer_id, occurred_at=when, amount=amount, currency="JPY"))
    session.flush()


def _member(session: Session, user_id: str) -> MemberView:
    member = get_member(session, user_id)
    assert member is not None
    return member


def _team(session: Session) -> None:
    for user, role in (("U0BOSS", "manager"), ("U0REPA", "sales"), ("U0REPB", "sales")):
        add_member(session, actor=TEST_ACTOR, user_id=user, role=role)


def test_overdue_by_owner_oldest_first_and_due_today(session: Session) -> None:
    _team(session)
    customer(session, "Acme", external_id="A", owner_id="U0REPA")
    customer(session, "Globex", external_id="G", owner_id="U0REPB")
    add_follow_up(
        session, actor=REP_B, customer_external_id="G", due_on=TODAY - dt.timedelta(days=9), note="b"
    )
    add_follow_up(
        session, actor=REP_A, customer_external_id="A", due_on=TODAY - dt.timedelta(days=2), note="a2"
    )
    add_follow_up(
        session, actor=REP_A, customer_external_id="A", due_on=TODAY - dt.timedelta(days=5), note="a5"
    )
    add_follow_up(session, actor=REP_A, customer_external_id="A", due_on=TODAY, note="today")
    add_follow_up(session, actor=REP_A, customer_external_id="A", due_on=TODAY + dt.timedelta(days=1))
    snapshot = take_snapshot(session, local_date=TODAY)
    boss = digest_for(snapshot, _member(session, "U0BOSS"))
    assert boss.scope == "team"
    assert [(f.owner_id, f.note) for f in boss.overdue] == [
        ("U0REPA", "a5"),
        ("U0REPA", "a2"),
        ("U0REPB", "b"),
    ]
    assert [f.note for f in boss.due_today] == ["today"]

    rep_b = digest_for(snapshot, _member(session, "U0REPB"))
    assert rep_b.scope == "own"
    assert [f.note for f in rep_b.overdue] == ["b"]
    assert rep_b.due_today == ()


def test_new_churn_risks_vips_first_with_reason_and_next_step(session: Session) -> None:
    _team(session)
    regulars = []
    for i in range(12):  # enough repeat buyers for the BG/NBD fit
        c = customer(session, f"Regular {i}", external_id=f"R{i}", owner_id="U0REPA")
        _buy(session, c.id, *range(2, 300, 20))
        regulars.append(c)
    big = customer(session, "Big Spender", external_id="BIG", owner_id="U0REPA")
    # Every 10 days for a year, silent for 80: the chance of a return fell below 30% this week.
    _buy(session, big.id, *range(80, 400, 10), amount=500_000)
    small = customer(session, "Small Fry", external_id="SMALL", owner_id="U0REPB")
    _buy(session, small.id, *range(80, 400, 10), amount=100)
    stale = customer(session, "Long Gone", external_id="STALE", owner_id="U0REPB")
    _buy(session, stale.id, *range(150, 400, 10), amount=100)
    snapshot = take_snapshot(session, local_date=TODAY)

    boss = digest_for(snapshot, _member(session, "U0BOSS"))
    risk_ids = [r.customer_external_id for r in boss.new_risks]
    assert risk_ids[:2] == ["BIG", "SMALL"]
    top = boss.new_risks[0]
    assert top.vip is True
    assert [part.key for part in top.reason] == [
        "churn.reason.own_purchase_rhythm",
        "churn.reason.return_chance_trend",
    ]
    assert top.reason[0].values == {"gap": 10, "since": 80}
    assert top.reason[1].values["chance"] < 30 <= top.reason[1].values["before"]
    assert top.next_step != ""
    assert not {r.customer_external_id for r in boss.new_risks} & {c.external_id for c in regulars}
    assert "STALE" not in risk_ids  # at risk a week ago already: not new

    rep_b = digest_for(snapshot, _member(session, "U0REPB"))
    assert [r.customer_external_id for r in rep_b.new_risks] == ["SMALL"]
    assert boss.kpis is not None and boss.kpis.active[0] >= 12

    # Support may not see purchases: the reason says so instead of quoting their timing.
    support = digest_for(snapshot, dataclasses.replace(_member(session, "U0REPB"), role="support"))
    [small] = support.new_risks
    assert [(part.key, part.values) for part in small.reason] == [("churn.reason.purchases_not_shown", {})]


def test_an_empty_store_gives_an_empty_digest(session: Session) -> None:
    _team(session)
    digest = digest_for(take_snapshot(session, local_date=TODAY), _member(session, "U0BOSS"))
    assert digest.is_empty


def test_a_digest_carries_the_first_items_of_a_section_and_counts_them_all(session: Session) -> None:
    _team(session)
    customer(session, "Acme", external_id="A", owner_id="U0REPA")
    for days in range(1, 13):
        add_follow_up(
            session,
            actor=REP_A,
            customer_external_id="A",
            due_on=TODAY - dt.timedelta(days=days),
            note=f"{days}",
        )
    snapshot = take_snapshot(session, local_date=TODAY)

    for member in ("U0BOSS", "U0REPA"):
        digest = digest_for(snapshot, _member(session, member))
        assert [f.note for f in digest.overdue] == [str(days) for days in range(12, 2, -1)]  # oldest first
        assert len(digest.overdue) == ITEMS_PER_SECTION.overdue
        assert digest.counts == SectionCounts(overdue=12, due_today=0, new_risks=0, reactivated=0)
    assert digest_for(snapshot, _member(session, "U0REPB")).is_empty
