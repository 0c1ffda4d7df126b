"""Team KPIs for a period [start, end), overall or per owner, for managers' reviews.

"Active" means bought or was in touch during the period: support-only customers count too, as the
team works for them as well. Rates whose denominator is empty are NaN rather than 0, so "nobody to
measure" is not shown as "everybody failed".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.churn import AT_RISK, CHURNED
from crm_core.analytics.frames import (
    CUSTOMER_ID,
    DAY,
    FrameContractError,
    validate_customers,
    validate_follow_ups,
)
from crm_core.analytics.history import ContactDays, PurchaseDays, day_number

OWNER_ID = "owner_id"
ALL_CUSTOMERS = "all"

KPI_COLUMNS = (
    "active",
    "buyers",
    "repeat_purchase_rate",
    "retention_rate",
    "at_risk",
    "churned",
    "reactivated",
    "follow_ups_due",
    "follow_ups_on_time",
    "follow_ups_on_time_rate",
)


def period_kpis(
    *,
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    churn: pd.DataFrame,
    follow_ups: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    by_owner: bool = False,
) -> pd.DataFrame:
    """``KPI_COLUMNS`` in one row (index ``all``) or one row per ``owner_id``.

    - repeat_purchase_rate: of the customers who bought in the period, the share with at least two
      purchase days ever before ``end``;
    - retention_rate: of the customers active in the previous period of the same length, the share
      active again in this one;
    - at_risk, churned, reactivated: counts from ``churn`` (``churn_risk`` and ``reactivated``
      columns, as ``score_customers`` returns them at the end of the period);
    - follow-ups: those due in the period and not cancelled, and those done by their due day.
    """
    start_day, end_day = day_number(start), day_number(end)
    length = end_day - start_day
    if length <= 0:
        raise ValueError(f"the period must end after it starts, got [{start}, {end})")
    known = validate_customers(customers)
    if by_owner and OWNER_ID not in known.columns:
        raise FrameContractError("customers lacks column owner_id, needed for KPIs by owner")
    bought = purchases.frame[purchases.frame["purchased"]]

    buyers = _had_days(known.index, bought, start_day, end_day)
    active = buyers | _had_days(known.index, contacts.frame, start_day, end_day)
    before = (start_day - length, start_day)
    active_before = _had_days(known.index, bought, *before) | _had_days(known.index, contacts.frame, *before)
    purchase_days = bought[bought[DAY] < end_day].groupby(CUSTOMER_ID).size().reindex(known.index)
    risk = churn["churn_risk"].reindex(known.index)
    per_customer = pd.DataFrame(
        {
            "active": active,
            "buyers": buyers,
            "repeat_buyers": buyers & (purchase_days >= 2).to_numpy(),
            "active_before": active_before,
            "retained": active_before & active,
            "at_risk": risk == AT_RISK,
            "churned": risk == CHURNED,
            "reactivated": churn["reactivated"].reindex(known.index, fill_value=False).astype(bool),
        },
        index=known.index,
    )
    owners = known[OWNER_ID] if by_owner else pd.Series(ALL_CUSTOMERS, index=known.index)
    counts = per_customer.groupby(owners.rename(OWNER_ID), dropna=False).sum()

    due = _follow_ups_due(follow_ups, start, end)
    due_owners = due[OWNER_ID] if by_owner else pd.Series(ALL_CUSTOMERS, index=due.index)
    follow_up_counts = due.groupby(due_owners.rename(OWNER_ID), dropna=False)["on_time"].agg(
        follow_ups_due="size", follow_ups_on_time="sum"
    )

    table = counts.join(follow_up_counts, how="outer").fillna(0).astype("int64")
    if not by_owner:
        table = table.reindex(pd.Index([ALL_CUSTOMERS], name=OWNER_ID), fill_value=0)
    table["repeat_purchase_rate"] = _rate(table["repeat_buyers"], table["buyers"])
    table["retention_rate"] = _rate(table["retained"], table["active_before"])
    table["follow_ups_on_time_rate"] = _rate(table["follow_ups_on_time"], table["follow_ups_due"])
    return table[list(KPI_COLUMNS)]


def _had_days(index: pd.Index, days: pd.DataFrame, start_day: int, end_day: int) -> NDArray[np.bool_]:
    in_period = (days[DAY] >= start_day) & (days[DAY] < end_day)
    return np.asarray(index.isin(days.loc[in_period, CUSTOMER_ID].to_numpy()), dtype=bool)


def _follow_ups_due(follow_ups: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Follow-ups due in the period that still count, with whether each was done on time."""
    valid = validate_follow_ups(follow_ups)
    due_on = valid["due_on"].dt.normalize()
    counted = (
        (due_on >= pd.Timestamp(start).normalize())
        & (due_on < pd.Timestamp(end).normalize())
        & (valid["status"] != "cancelled")
    )
    # Done any time on the due day is on time, whatever the hour.
    on_time = (valid["status"] == "done") & (valid["done_at"].dt.normalize() <= due_on)
    return pd.DataFrame({OWNER_ID: valid[OWNER_ID][counted], "on_time": on_time[counted]})


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype("float64")
