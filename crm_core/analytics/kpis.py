"""Team KPIs for a period [start, end), overall or per owner, for managers' reviews.

"Active" means bought or was in touch during the period: support-only customers count too, as the
team works for them as well. Rates whose denominator is empty are NaN rather than 0, so "nobody to
measure" is not shown as "everybody failed".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.aligned import aligned
from crm_core.analytics.churn import AT_RISK, CHURNED
from crm_core.analytics.frames import (
    FrameContractError,
    IntArray,
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
    counted = _Counted.of(customers, purchases, contacts, churn, follow_ups, start, end, by_owner)
    return counted.by_owner() if by_owner else counted.team()


def team_and_owner_kpis(
    *,
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    churn: pd.DataFrame,
    follow_ups: pd.DataFrame,
    start: dt.date,
    end: dt.date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``period_kpis`` for the team and by owner, each customer's part of them computed once."""
    counted = _Counted.of(customers, purchases, contacts, churn, follow_ups, start, end, True)
    return counted.team(), counted.by_owner()


@dataclass(frozen=True)
class _Counted:
    """What each customer and each follow-up due counts for, before they are summed by owner."""

    per_customer: pd.DataFrame
    owners: pd.Series
    due: pd.DataFrame

    @classmethod
    def of(
        cls,
        customers: pd.DataFrame,
        purchases: PurchaseDays,
        contacts: ContactDays,
        churn: pd.DataFrame,
        follow_ups: pd.DataFrame,
        start: dt.date,
        end: dt.date,
        by_owner: bool,
    ) -> _Counted:
        start_day, end_day = day_number(start), day_number(end)
        length = end_day - start_day
        if length <= 0:
            raise ValueError(f"the period must end after it starts, got [{start}, {end})")
        known = validate_customers(customers)
        if by_owner and OWNER_ID not in known.columns:
            raise FrameContractError("customers lacks column owner_id, needed for KPIs by owner")
        index = known.index
        bought, contacted = purchases.activity_days(), contacts.activity_days()

        buyers = _had_days(index, *bought, start_day, end_day)
        active = buyers | _had_days(index, *contacted, start_day, end_day)
        before = (start_day - length, start_day)
        active_before = _had_days(index, *bought, *before) | _had_days(index, *contacted, *before)
        risk = aligned(churn["churn_risk"], index)
        per_customer = pd.DataFrame(
            {
                "active": active,
                "buyers": buyers,
                "repeat_buyers": buyers & index.isin(_with_days_before(*bought, 2, end_day)),
                "active_before": active_before,
                "retained": active_before & active,
                "at_risk": risk == AT_RISK,
                "churned": risk == CHURNED,
                "reactivated": aligned(churn["reactivated"], index, fill_value=False).astype(bool),
            },
            index=index,
        )
        owners = known[OWNER_ID] if OWNER_ID in known.columns else pd.Series(np.nan, index=index)
        return cls(per_customer, owners, _follow_ups_due(follow_ups, start, end))

    def team(self) -> pd.DataFrame:
        counts = self.per_customer.sum().to_frame(ALL_CUSTOMERS).T
        on_time = self.due["on_time"]
        table = counts.assign(follow_ups_due=len(on_time), follow_ups_on_time=int(on_time.sum()))
        return _rated(table.set_axis(pd.Index([ALL_CUSTOMERS], name=OWNER_ID)).astype("int64"))

    def by_owner(self) -> pd.DataFrame:
        counts = summed_by(self.per_customer, self.owners.rename(OWNER_ID))
        follow_up_counts = self.due.groupby(self.due[OWNER_ID].rename(OWNER_ID), dropna=False)["on_time"].agg(
            follow_ups_due="size", follow_ups_on_time="sum"
        )
        return _rated(counts.join(follow_up_counts, how="outer").fillna(0).astype("int64"))


def summed_by(flags: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """``flags.groupby(keys, dropna=False).sum()`` of boolean columns, by counting each column's
    true rows per key: the groupby turned every column into int64 at once and sorted them, about a
    hundred MB of temporaries at a million customers, at the morning job's highest moment."""
    if isinstance(keys.dtype, pd.CategoricalDtype):  # the groupby's own index (a CategoricalIndex)
        return flags.groupby(keys, dropna=False).sum()
    codes, uniques = pd.factorize(keys, sort=True)
    labels = list(uniques)
    if (codes < 0).any():  # missing keys are one group, last
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(np.nan)
    columns = {
        name: np.bincount(codes[flags[name].to_numpy(dtype=bool)], minlength=len(labels)).astype(np.int64)
        for name in flags.columns
    }
    # A few labels, typed as the groupby types them (strings become a str index, not object).
    index = pd.Index(labels, name=keys.name) if labels else uniques.rename(keys.name)
    return pd.DataFrame(columns, index=index)


def _rated(table: pd.DataFrame) -> pd.DataFrame:
    table["repeat_purchase_rate"] = _rate(table["repeat_buyers"], table["buyers"])
    table["retention_rate"] = _rate(table["retained"], table["active_before"])
    table["follow_ups_on_time_rate"] = _rate(table["follow_ups_on_time"], table["follow_ups_due"])
    return table[list(KPI_COLUMNS)]


def _had_days(
    index: pd.Index, ids: IntArray, days: IntArray, start_day: int, end_day: int
) -> NDArray[np.bool_]:
    """Whether each customer of ``index`` has a day in [start_day, end_day)."""
    return np.asarray(index.isin(ids[(days >= start_day) & (days < end_day)]), dtype=bool)


def _with_days_before(ids: IntArray, days: IntArray, at_least: int, end_day: int) -> IntArray:
    """The customers with at least ``at_least`` days before ``end_day`` (rows sorted by customer)."""
    ids = ids[days < end_day]
    starts = np.flatnonzero(np.append(True, ids[1:] != ids[:-1])) if len(ids) else np.empty(0, np.int64)
    sizes = np.diff(np.append(starts, len(ids)))
    return ids[starts[sizes >= at_least]]


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
