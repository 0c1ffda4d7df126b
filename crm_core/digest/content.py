"""What a digest says, as plain data: the Slack layer renders it, ``crm-bot digest --print`` prints it.

Analytics run once per local date for the whole team (``TeamSnapshot``); each recipient's digest is
then a cheap filter of it. Managers and admins get the team view; sales and support people their
own follow-ups and the customers they own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, may
from crm_core.analytics.churn import TREND_DAYS, churn_levels, reactivated
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.kpis import period_kpis
from crm_core.analytics.load import StoreFrames, load_frames
from crm_core.analytics.scores import ScoringFits, score_customers
from crm_core.team.service import MemberView

OPEN = ("open", "snoozed")
KPI_WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class FollowUpItem:
    follow_up_id: int
    customer_external_id: str
    customer_name: str
    owner_id: str | None
    due_on: dt.date
    note: str
    vip: bool


@dataclass(frozen=True)
class RiskItem:
    customer_external_id: str
    customer_name: str
    owner_id: str | None
    vip: bool
    churn_risk: str
    reason: str
    next_step_key: str
    next_step: str


@dataclass(frozen=True)
class KpiLine:
    """This week against last week; rates are fractions (0–1) or None when there was nothing to rate."""

    active: tuple[int, int]
    at_risk: tuple[int, int]
    churned: tuple[int, int]
    reactivated: tuple[int, int]
    retention_rate: tuple[float | None, float | None]
    follow_ups_on_time_rate: tuple[float | None, float | None]


@dataclass(frozen=True)
class Digest:
    recipient_id: str
    local_date: dt.date
    scope: str  # "team" or "own"
    overdue: tuple[FollowUpItem, ...]
    due_today: tuple[FollowUpItem, ...]
    new_risks: tuple[RiskItem, ...]
    reactivated: tuple[RiskItem, ...]
    kpis: KpiLine | None

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_today or self.new_risks or self.reactivated)


@dataclass(frozen=True)
class TeamSnapshot:
    """Scores and follow-ups of the whole team as of one local date."""

    local_date: dt.date
    customers: pd.DataFrame  # indexed by customer_id, with the score columns joined
    follow_ups: pd.DataFrame
    kpis: KpiLine | None
    kpis_by_owner: dict[str, KpiLine]


def take_snapshot(session: Session, *, local_date: dt.date) -> TeamSnapshot:
    """Load the store once and score every customer as of ``local_date``."""
    return snapshot_from_frames(load_frames(session), local_date=local_date)


def snapshot_from_frames(frames: StoreFrames, *, local_date: dt.date) -> TeamSnapshot:
    scores, fits = score_customers(frames.customers, frames.purchases, frames.interactions, local_date)
    purchases = PurchaseDays.from_purchases(frames.purchases)
    contacts = ContactDays.from_interactions(frames.interactions)
    last_week = _levels_a_week_before(frames, purchases, contacts, fits, local_date)
    customers = frames.customers.set_index("customer_id").join(scores)
    customers["was_at_risk"] = last_week["churn_risk"].reindex(customers.index).isin(("at_risk", "churned"))
    team, by_owner = _kpis(frames, purchases, contacts, customers, last_week, local_date)
    return TeamSnapshot(local_date, customers, frames.follow_ups, team, by_owner)


def _levels_a_week_before(
    frames: StoreFrames, purchases: PurchaseDays, contacts: ContactDays, fits: ScoringFits, today: dt.date
) -> pd.DataFrame:
    """Churn levels (and who came back) as they stood a week ago, for "new" risks and last week's KPIs.

    Only the levels are needed, not a full re-scoring: today's fit judges last week's history too
    (as ``churn_levels`` allows), which halves the cost of a snapshot.
    """
    week_ago = today - KPI_WEEK
    month_before = week_ago - dt.timedelta(days=TREND_DAYS)
    common: dict[str, Any] = {
        "customers": frames.customers,
        "purchases": purchases,
        "contacts": contacts,
        "bgnbd": fits.bgnbd,
    }
    then = churn_levels(**common, today=week_ago)
    before = churn_levels(**common, today=month_before)
    return then.assign(reactivated=reactivated(before=before, now=then, since=month_before))


def _kpis(
    frames: StoreFrames,
    purchases: PurchaseDays,
    contacts: ContactDays,
    scores: pd.DataFrame,
    last_week: pd.DataFrame,
    today: dt.date,
) -> tuple[KpiLine | None, dict[str, KpiLine]]:
    follow_ups = frames.follow_ups.assign(due_on=frames.follow_ups["due_on"].dt.date)
    common: dict[str, Any] = {"customers": frames.customers, "purchases": purchases, "contacts": contacts}
    tables = []
    for end, churn in ((today, scores), (today - KPI_WEEK, last_week)):
        kwargs = {**common, "churn": churn, "follow_ups": follow_ups, "start": end - KPI_WEEK, "end": end}
        tables.append((period_kpis(**kwargs), period_kpis(**kwargs, by_owner=True)))
    (now_all, now_owner), (before_all, before_owner) = tables
    team = _kpi_line(now_all.iloc[0], before_all.iloc[0]) if len(now_all) else None
    before_rows = {str(owner): row for owner, row in before_owner.iterrows()}
    by_owner = {
        str(owner): _kpi_line(row, before_rows.get(str(owner))) for owner, row in now_owner.iterrows()
    }
    return team, by_owner


def _kpi_line(now: pd.Series, before: pd.Series | None) -> KpiLine:
    def pair(column: str, as_rate: bool = False) -> Any:
        values = [now[column], None if before is None else before[column]]
        if as_rate:
            return tuple(None if v is None or pd.isna(v) else float(v) for v in values)
        return tuple(0 if v is None or pd.isna(v) else int(v) for v in values)

    return KpiLine(
        active=pair("active"),
        at_risk=pair("at_risk"),
        churned=pair("churned"),
        reactivated=pair("reactivated"),
        retention_rate=pair("retention_rate", as_rate=True),
        follow_ups_on_time_rate=pair("follow_ups_on_time_rate", as_rate=True),
    )


def digest_for(snapshot: TeamSnapshot, member: MemberView) -> Digest:
    """The digest one person gets: the team's or their own, most urgent first, VIPs first."""
    team_view = may(member.role, Permission.TEAM_DIGEST)
    customers = snapshot.customers
    follow_ups = snapshot.follow_ups[snapshot.follow_ups["status"].isin(OPEN)]
    if not team_view:
        customers = customers[customers["owner_id"] == member.slack_user_id]
        follow_ups = follow_ups[follow_ups["owner_id"] == member.slack_user_id]
    due = follow_ups.assign(due_date=follow_ups["due_on"].dt.date)
    overdue = due[due["due_date"] < snapshot.local_date].sort_values(["owner_id", "due_date", "follow_up_id"])
    due_today = due[due["due_date"] == snapshot.local_date].sort_values(["owner_id", "follow_up_id"])
    at_risk = customers["churn_risk"].isin(("at_risk", "churned"))
    new_risks = customers[at_risk & ~customers["was_at_risk"]].sort_values(
        ["vip", "revenue_12m"], ascending=[False, False], na_position="last"
    )
    back = customers[customers["reactivated"].fillna(False).astype(bool)]
    kpis = snapshot.kpis if team_view else snapshot.kpis_by_owner.get(member.slack_user_id)
    return Digest(
        recipient_id=member.slack_user_id,
        local_date=snapshot.local_date,
        scope="team" if team_view else "own",
        overdue=_follow_up_items(overdue, snapshot.customers),
        due_today=_follow_up_items(due_today, snapshot.customers),
        new_risks=_risk_items(new_risks),
        reactivated=_risk_items(back),
        kpis=kpis,
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _follow_up_items(rows: pd.DataFrame, customers: pd.DataFrame) -> tuple[FollowUpItem, ...]:
    joined = rows.join(customers[["external_id", "name", "vip"]], on="customer_id")
    return tuple(
        FollowUpItem(
            follow_up_id=int(r["follow_up_id"]),
            customer_external_id=str(r["external_id"]),
            customer_name=str(r["name"]),
            owner_id=_optional_str(r["owner_id"]),
            due_on=r["due_date"],
            note=_optional_str(r["note"]) or "",
            vip=r["vip"] is True,
        )
        for r in joined.to_dict("records")
    )


def _risk_items(rows: pd.DataFrame) -> tuple[RiskItem, ...]:
    return tuple(
        RiskItem(
            customer_external_id=str(r["external_id"]),
            customer_name=str(r["name"]),
            owner_id=_optional_str(r["owner_id"]),
            vip=bool(r["vip"]),
            churn_risk=str(r["churn_risk"]),
            reason=_optional_str(r["reason"]) or "",
            next_step_key=_optional_str(r["next_step_key"]) or "",
            next_step=_optional_str(r["next_step"]) or "",
        )
        for r in rows.to_dict("records")
    )
