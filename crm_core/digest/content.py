"""What a digest says, as plain data: the Slack layer renders it, ``crm-bot digest --print`` prints it.

Analytics run once per local date for the whole team (``TeamSnapshot``); each recipient's digest is
then a cheap filter of it. Managers and admins get the team view; sales and support people their
own follow-ups and the customers they own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from functools import partial
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, may
from crm_core.analytics.aligned import aligned
from crm_core.analytics.churn import TREND_DAYS, churn_levels, reactivated
from crm_core.analytics.frames import FrameContractError
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.kpis import team_and_owner_kpis
from crm_core.analytics.load import ScoringHistories, load_histories, read_names, read_notes
from crm_core.analytics.reasons import Reason, churn_reasons
from crm_core.analytics.scores import ScoringFits, score_histories
from crm_core.team.service import MemberView

OPEN = ("open", "snoozed")
NAME_COLUMNS = ("external_id", "name")
KPI_WEEK = dt.timedelta(days=7)
FLAGGED = ("at_risk", "churned")


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
    reason: Reason  # message keys with parameters, without purchase facts for roles that may not see them
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
class SectionCounts:
    overdue: int
    due_today: int
    new_risks: int
    reactivated: int


# The items a digest carries per section, the most urgent first; the rest are only counted. A
# manager's team may have tens of thousands of overdue follow-ups and new risks, and one message
# shows no more than these (chosen so that they fit Slack's 50 blocks: see bot/blocks/digest.py).
ITEMS_PER_SECTION = SectionCounts(overdue=10, due_today=5, new_risks=8, reactivated=3)


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
    # How many each section holds in all, when the tuples above carry only its first items (as
    # ``digest_for`` builds them); None when the tuples are whole sections.
    totals: SectionCounts | None = None

    @property
    def counts(self) -> SectionCounts:
        """How many follow-ups and customers each section has, shown or not."""
        if self.totals is not None:
            return self.totals
        return SectionCounts(
            len(self.overdue), len(self.due_today), len(self.new_risks), len(self.reactivated)
        )

    @property
    def is_empty(self) -> bool:
        return not any(astuple(self.counts))

    @property
    def customers_named(self) -> set[str]:
        """External ids of the customers the digest names (the items it carries), for an erasure."""
        follow_ups, risks = (*self.overdue, *self.due_today), (*self.new_risks, *self.reactivated)
        return {item.customer_external_id for item in follow_ups} | {r.customer_external_id for r in risks}


@dataclass(frozen=True)
class TeamSections:
    """The team's digest sections in order, one row per item; a person's are a filter by owner."""

    overdue: pd.DataFrame
    due_today: pd.DataFrame
    new_risks: pd.DataFrame
    reactivated: pd.DataFrame


@dataclass(frozen=True)
class TeamSnapshot:
    """Scores and follow-ups of the whole team as of one local date, and the digests' sections."""

    local_date: dt.date
    customers: pd.DataFrame  # indexed by customer_id, with the score columns joined (no names)
    follow_ups: pd.DataFrame
    kpis: KpiLine | None
    kpis_by_owner: dict[str, KpiLine]
    sections: TeamSections


# Reads ``external_id`` and ``name`` of the given customer ids, indexed by customer_id.
NameReader = Callable[[Sequence[int]], pd.DataFrame]
# Reads the ``note`` of the given follow-up ids, indexed by follow_up_id.
NoteReader = Callable[[Sequence[int]], pd.Series]


def take_snapshot(session: Session, *, local_date: dt.date) -> TeamSnapshot:
    """Load the store once and score every customer as of ``local_date``.

    Customers' names and external ids are read only for those a digest can show. The purchases'
    day history and models are made while the contacts are read, and the contact days' summaries
    beside them (``load_histories``).
    """
    return snapshot_from_prepared(
        load_histories(session, today=local_date),
        local_date=local_date,
        names=partial(read_names, session),
        notes=partial(read_notes, session),
    )


def snapshot_from_prepared(
    prepared: ScoringHistories,
    *,
    local_date: dt.date,
    names: NameReader | None = None,
    notes: NoteReader | None = None,
) -> TeamSnapshot:
    """The snapshot of what ``take_snapshot`` loaded; ``names`` reads the names of the customers
    shown, when the customers carry none, and ``notes`` the notes of the follow-ups shown, when
    the follow-ups carry none (see ``load_frames``)."""
    purchases, fits = prepared.purchases
    contacts, customers_frame, follow_ups = prepared.contacts, prepared.customers, prepared.follow_ups
    # A week ago first, while no score is held yet: judging a cut history takes the most memory.
    last_week = _levels_a_week_before(customers_frame, purchases, contacts, fits, local_date)
    scores = score_histories(customers_frame, purchases, contacts, fits, local_date)
    owned = customers_frame.set_index("customer_id")
    customers = _owned_scores(owned.drop(columns=[c for c in NAME_COLUMNS if c in owned.columns]), scores)
    customers["was_at_risk"] = aligned(last_week["churn_risk"], customers.index).isin(FLAGGED)
    purchases.forget_summaries()
    contacts.forget_summaries()
    team, by_owner = _kpis(customers_frame, follow_ups, purchases, contacts, customers, last_week, local_date)
    sections = _team_sections(customers, follow_ups, local_date)
    shown = _shown_customers(sections)
    sections = _named(sections, owned.loc[shown, list(NAME_COLUMNS)] if names is None else names(shown))
    if "note" not in follow_ups.columns:
        if notes is None:
            raise FrameContractError("follow-ups without notes need a reader of the notes shown")
        sections = _with_notes(sections, notes)
    return TeamSnapshot(local_date, customers, follow_ups, team, by_owner, sections)


def _owned_scores(owned: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``owned.join(scores)``: where both hold the same customers in the same order (as scoring
    returns them), the owner columns are put in front of the scores themselves, which a join would
    copy (230 MB at a million customers) while they are still held."""
    if not owned.index.equals(scores.index):
        return owned.join(scores)
    for position, column in enumerate(owned.columns):
        scores.insert(position, column, owned[column].array)
    return scores.set_axis(owned.index)


def _team_sections(customers: pd.DataFrame, follow_ups: pd.DataFrame, local_date: dt.date) -> TeamSections:
    """Selected and sorted once for everybody's digest, not once per person over a million rows.

    A stable sort, so each person's part comes out in the order sorting it alone would give.
    """
    follow_ups = follow_ups[follow_ups["status"].isin(OPEN)]
    due = follow_ups.assign(due_date=follow_ups["due_on"].dt.date)
    due = due[due["due_date"] <= local_date]
    due = due.join(customers[["vip"]], on="customer_id")
    due = due.sort_values(["owner_id", "due_date", "follow_up_id"], kind="stable")
    new_risks = customers[customers["churn_risk"].isin(FLAGGED) & ~customers["was_at_risk"]]
    # VIPs first, then by the revenue at stake: a year's revenue times the chance it is lost.
    at_stake = new_risks["revenue_12m"] * (1.0 - new_risks["p_return_90d"].fillna(0.0))
    new_risks = new_risks.assign(at_stake=at_stake)
    return TeamSections(
        overdue=due[due["due_date"] < local_date],
        due_today=due[due["due_date"] == local_date],
        new_risks=new_risks.sort_values(
            ["vip", "at_stake"], ascending=[False, False], na_position="last", kind="stable"
        ),
        reactivated=customers[customers["reactivated"].fillna(False).astype(bool)],
    )


def _section_limits(sections: TeamSections) -> list[tuple[pd.DataFrame, int]]:
    shown = ITEMS_PER_SECTION
    return [
        (sections.overdue, shown.overdue),
        (sections.due_today, shown.due_today),
        (sections.new_risks, shown.new_risks),
        (sections.reactivated, shown.reactivated),
    ]


def _shown_customers(sections: TeamSections) -> list[int]:
    """The customers any digest can name: each section's first items for the team, and for each owner."""
    shown: set[int] = set()
    for rows, limit in _section_limits(sections):
        ids = rows["customer_id"] if "customer_id" in rows.columns else rows.index.to_series()
        shown.update(int(i) for i in _first_shown(ids, rows, limit))
    return sorted(shown)


def _first_shown(values: pd.Series, rows: pd.DataFrame, limit: int) -> pd.Series:
    """``values`` of the first ``limit`` rows for the team and of each owner's first ``limit``."""
    by_owner = values.groupby(rows["owner_id"], sort=False, dropna=False, observed=True)
    first: pd.Series = pd.concat([values.head(limit), by_owner.head(limit)])
    return first


def _named(sections: TeamSections, names: pd.DataFrame) -> TeamSections:
    """The sections with ``external_id`` and ``name`` of the customers shown (missing for the rest)."""

    def named(rows: pd.DataFrame) -> pd.DataFrame:
        on = "customer_id" if "customer_id" in rows.columns else None
        return rows.join(names[list(NAME_COLUMNS)], on=on)

    return TeamSections(
        overdue=named(sections.overdue),
        due_today=named(sections.due_today),
        new_risks=named(sections.new_risks),
        reactivated=named(sections.reactivated),
    )


def _with_notes(sections: TeamSections, notes: NoteReader) -> TeamSections:
    """The follow-up sections with the ``note`` of the follow-ups any digest can show."""
    limits = ITEMS_PER_SECTION
    due = ((sections.overdue, limits.overdue), (sections.due_today, limits.due_today))
    read = notes([int(i) for rows, limit in due for i in _first_shown(rows["follow_up_id"], rows, limit)])

    def noted(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.join(read, on="follow_up_id")

    return dataclasses.replace(sections, overdue=noted(sections.overdue), due_today=noted(sections.due_today))


def _levels_a_week_before(
    customers: pd.DataFrame, purchases: PurchaseDays, contacts: ContactDays, fits: ScoringFits, today: dt.date
) -> pd.DataFrame:
    """Churn levels (and who came back) as they stood a week ago, for "new" risks and last week's KPIs.

    Only the levels are needed, not a full re-scoring: today's fit judges last week's history too
    (as ``churn_levels`` allows), which halves the cost of a snapshot.
    """
    week_ago = today - KPI_WEEK
    month_before = week_ago - dt.timedelta(days=TREND_DAYS)
    common: dict[str, Any] = {
        "customers": customers,
        "purchases": purchases,
        "contacts": contacts,
        "returns": fits.returns,
    }
    then = churn_levels(**common, today=week_ago)
    before = churn_levels(**common, today=month_before)
    return then.assign(reactivated=reactivated(before=before, now=then, since=month_before))


def _kpis(
    customers: pd.DataFrame,
    follow_ups: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    scores: pd.DataFrame,
    last_week: pd.DataFrame,
    today: dt.date,
) -> tuple[KpiLine | None, dict[str, KpiLine]]:
    common: dict[str, Any] = {
        "customers": customers,
        "purchases": purchases,
        "contacts": contacts,
        "follow_ups": follow_ups,
    }
    tables = []
    for end, churn in ((today, scores), (today - KPI_WEEK, last_week)):
        tables.append(team_and_owner_kpis(**common, churn=churn, start=end - KPI_WEEK, end=end))
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
    """The digest one person gets: the team's or their own, most urgent first, VIPs first.

    Only the first items of each section become items (``ITEMS_PER_SECTION``), the rest are counted.
    """
    team_view = may(member.role, Permission.TEAM_DIGEST)
    sees_purchases = may(member.role, Permission.READ_REVENUE)
    sections = snapshot.sections

    def section(rows: pd.DataFrame) -> pd.DataFrame:
        return rows if team_view else rows[rows["owner_id"] == member.slack_user_id]

    overdue, due_today = section(sections.overdue), section(sections.due_today)
    new_risks, back = section(sections.new_risks), section(sections.reactivated)
    shown = ITEMS_PER_SECTION
    return Digest(
        recipient_id=member.slack_user_id,
        local_date=snapshot.local_date,
        scope="team" if team_view else "own",
        overdue=_follow_up_items(overdue.head(shown.overdue)),
        due_today=_follow_up_items(due_today.head(shown.due_today)),
        new_risks=_risk_items(new_risks.head(shown.new_risks), sees_purchases),
        reactivated=_risk_items(back.head(shown.reactivated), sees_purchases),
        kpis=snapshot.kpis if team_view else snapshot.kpis_by_owner.get(member.slack_user_id),
        totals=SectionCounts(len(overdue), len(due_today), len(new_risks), len(back)),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _follow_up_items(rows: pd.DataFrame) -> tuple[FollowUpItem, ...]:
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
        for r in rows.to_dict("records")
    )


def _risk_items(rows: pd.DataFrame, sees_purchases: bool) -> tuple[RiskItem, ...]:
    return tuple(
        RiskItem(
            customer_external_id=str(r["external_id"]),
            customer_name=str(r["name"]),
            owner_id=_optional_str(r["owner_id"]),
            vip=bool(r["vip"]),
            churn_risk=str(r["churn_risk"]),
            reason=churn_reasons(r).for_viewer(sees_purchases=sees_purchases),
            next_step_key=_optional_str(r["next_step_key"]) or "",
            next_step=_optional_str(r["next_step"]) or "",
        )
        for r in rows.to_dict("records")
    )
