"""A campaign list: the customers one mailing goes to, with the columns the asker's role may see.

The lists follow the seeds' campaigns: an RFM segment by name (``Champions``, ``At Risk``, …),
``at-risk`` (churn risk at risk or churned: the win-back mailing), ``vip`` (the thank-you) and
``won-back`` (customers the daily scoring saw come back in the last ``WON_BACK_DAYS``, from its
alert events). All come from the kept scores, so a list is as of the last scoring. Contact details
are in every list (every role may see a profile's); order counts and the last purchase only for
roles that may see revenue. Every cell is text a spreadsheet will not run (``crm_core.io.formulas``).
Erased customers are never listed. Each list is audited (which list, how many rows; no names).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from typing import IO

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize, can
from crm_core.actor import Actor
from crm_core.alerts.topics import Topic
from crm_core.analytics.rfm import SEGMENTS
from crm_core.audit.service import record
from crm_core.errors import InvalidInput
from crm_core.io.formulas import text_cell
from crm_core.models import AlertEvent, Customer, CustomerScore, Purchase

AT_RISK, VIP, WON_BACK = "at-risk", "vip", "won-back"
LISTS = (AT_RISK, VIP, WON_BACK)
WON_BACK_DAYS = 90
CONTACT_COLUMNS = ("external_id", "name", "company", "email", "phone", "owner", "tags")
SCORE_COLUMNS = ("segment", "churn_risk", "vip")
REVENUE_COLUMNS = ("orders", "last_purchase_on")


@dataclass(frozen=True)
class CampaignList:
    name: str  # as the store knows it: "Champions", "at-risk", …
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # formula-safe text cells


def list_names() -> tuple[str, ...]:
    return (*LISTS, *SEGMENTS)


def campaign_list(
    session: Session,
    *,
    actor: Actor,
    name: str,
    owner_id: str | None = None,
    tag: str | None = None,
    today: dt.date,
) -> CampaignList:
    """The customers of list ``name`` (of ``owner_id`` and with ``tag``, when given), by name."""
    authorize(actor, Permission.CAMPAIGN_LIST)
    known = _known_name(name)
    query = _customers_of(known, today=today)
    if owner_id is not None:
        query = query.where(Customer.owner_id == owner_id)
    wanted_tag = tag.casefold() if tag else None
    revenue = can(actor, Permission.READ_REVENUE)
    orders = _orders(session) if revenue else {}
    rows = []
    for customer, score in session.execute(query.order_by(Customer.name, Customer.id)):
        tags = customer.tags or []
        if wanted_tag is not None and wanted_tag not in {t.casefold() for t in tags}:
            continue
        cells: list[object] = [
            customer.external_id,
            customer.name,
            customer.company,
            customer.email,
            customer.phone,
            customer.owner_id,
            ";".join(tags),
            score.segment if score else None,
            score.churn_risk if score else None,
            ("yes" if score.vip else "no") if score else None,
        ]
        if revenue:
            count, last = orders.get(customer.id, (0, None))
            cells += [count, last.date().isoformat() if last else None]
        rows.append(tuple(_cell(value) for value in cells))
    columns = (*CONTACT_COLUMNS, *SCORE_COLUMNS, *(REVENUE_COLUMNS if revenue else ()))
    record(session, actor=actor, action="campaign.list", detail={"list": known, "rows": len(rows)})
    return CampaignList(known, columns, tuple(rows))


def write_csv(campaign: CampaignList, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(campaign.columns)
    writer.writerows(campaign.rows)


def _known_name(name: str) -> str:
    """The list ``name`` means, ignoring case and extra spaces; ``at risk`` is the RFM segment ``At
    Risk`` and ``at-risk`` the churn list, so only the latter may be written with a space for the hyphen
    when no segment has that name."""
    folded = " ".join(name.split()).casefold()
    for known in list_names():
        if folded == known.casefold():
            return known
    if folded.replace(" ", "-") in LISTS:
        return folded.replace(" ", "-")
    raise InvalidInput(
        f"“{name}” is not a campaign list; lists: {', '.join(list_names())}",
        key="campaign.unknown_list",
        params={"name": name, "lists": ", ".join(list_names())},
        field="segment",
    )


def _customers_of(name: str, *, today: dt.date) -> Select[Customer, CustomerScore]:
    query = (
        select(Customer, CustomerScore)
        .join(CustomerScore, CustomerScore.customer_id == Customer.id, isouter=name == WON_BACK)
        .where(Customer.erased_at.is_(None))
    )
    if name == AT_RISK:
        return query.where(CustomerScore.churn_risk != "ok")
    if name == VIP:
        return query.where(CustomerScore.vip.is_(True))
    if name == WON_BACK:
        since = dt.datetime.combine(today - dt.timedelta(days=WON_BACK_DAYS), dt.time())
        came_back = select(AlertEvent.customer_id).where(
            AlertEvent.topic == Topic.WON_BACK.value, AlertEvent.occurred_at >= since
        )
        return query.where(Customer.id.in_(came_back))
    return query.where(CustomerScore.segment == name)


def _orders(session: Session) -> dict[int, tuple[int, dt.datetime | None]]:
    rows = session.execute(
        select(Purchase.customer_id, func.count(), func.max(Purchase.occurred_at)).group_by(
            Purchase.customer_id
        )
    )
    return {customer_id: (count, last) for customer_id, count, last in rows}


def _cell(value: object) -> str:
    return "" if value is None else text_cell(str(value))
