"""Day-level purchase and contact histories, aggregated once and shared by every model.

Purchases are counted per calendar day everywhere (BG/NBD, RFM, KPIs): a basket split into several
orders on one day is one purchase occasion, and the numbers on a profile card agree with each other.
Days are integers (days since 1970-01-01) so gaps and windows are plain arithmetic on arrays, and
the raw frames are validated and aggregated once (the costly step for millions of rows), after which
each model only cuts the history at its own ``today`` with ``until``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.frames import (
    AMOUNT,
    CUSTOMER_ID,
    OCCURRED_AT,
    validate_interactions,
    validate_purchases,
)

DAY = "day"
_EPOCH = pd.Timestamp("1970-01-01")

IntArray = NDArray[np.int64]


def day_number(when: dt.date) -> int:
    """The integer day of a date (a datetime counts as its calendar day)."""
    return int((pd.Timestamp(when).normalize() - _EPOCH) // pd.Timedelta(days=1))


def day_timestamps(days: pd.Series) -> pd.Series:
    """Integer days back to midnight timestamps, for frames that people read."""
    stamps = days.to_numpy(dtype="float64").astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(stamps, index=days.index)


@dataclass(frozen=True, eq=False)
class PurchaseDays:
    """One row per customer and day with a purchase or refund, sorted by customer then day.

    ``frame`` columns: ``customer_id``, ``day``, ``spend`` (bought that day, refunds left out: order
    values must be positive for the spend model), ``net`` (refunds subtracted: what the business
    kept) and ``purchased`` (false on refund-only days, so a refund is never a purchase occasion).
    """

    frame: pd.DataFrame

    @classmethod
    def from_purchases(cls, purchases: pd.DataFrame) -> PurchaseDays:
        """Validate a purchases frame (see ``frames``) and aggregate it to days."""
        valid = validate_purchases(purchases)
        ids = valid[CUSTOMER_ID].to_numpy()
        days = _days(valid[OCCURRED_AT])
        amount = valid[AMOUNT].to_numpy()
        order = _customer_day_order(ids, days)
        ids, days, amount = ids[order], days[order], amount[order]
        starts = _group_starts(ids, days)
        bought = amount >= 0
        frame = pd.DataFrame(
            {
                CUSTOMER_ID: ids[starts],
                DAY: days[starts],
                "spend": np.add.reduceat(np.where(bought, amount, 0.0), starts),
                "net": np.add.reduceat(amount, starts),
                "purchased": np.logical_or.reduceat(bought, starts),
            }
        )
        return cls(frame)

    def until(self, today: dt.date) -> PurchaseDays:
        """The history as it was known at the end of ``today``: later rows do not exist yet.

        When nothing is later this is the same object, so summaries cached on it are shared by
        every model that cuts the history at the same day.
        """
        if _all_until(self.frame, today):
            return self
        return PurchaseDays(self.frame[self.frame[DAY] <= day_number(today)])

    @cached_property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a purchase day: ``first_day``, ``last_day``, ``purchase_days``, ``net_revenue``.

        ``net_revenue`` subtracts refunds from any day, so revenue is what the business kept.
        Cached and shared: treat it (like every cached summary here) as read-only.
        """
        bought = self.frame[self.frame["purchased"]]
        history = bought.groupby(CUSTOMER_ID).agg(
            first_day=(DAY, "min"), last_day=(DAY, "max"), purchase_days=(DAY, "size")
        )
        history["net_revenue"] = self.frame.groupby(CUSTOMER_ID)["net"].sum().reindex(history.index)
        return history

    @cached_property
    def repeat_spend(self) -> pd.DataFrame:
        """Per customer with a purchase day: ``x`` repeat purchase days and their ``mean_value`` (0 if none).

        The first purchase day is left out, as the spend model wants: it is often atypical.
        """
        bought = self.frame[self.frame["purchased"]]
        customer = bought[CUSTOMER_ID]
        repeats = bought[customer.duplicated()].groupby(CUSTOMER_ID)["spend"].agg(["size", "mean"])
        buyers = self.per_customer.index
        return pd.DataFrame(
            {
                "x": repeats["size"].reindex(buyers, fill_value=0).astype("float64"),
                "mean_value": repeats["mean"].reindex(buyers, fill_value=0.0),
            }
        )

    def median_gap_days(self) -> pd.Series:
        """Each repeat buyer's median number of days between consecutive purchase days."""
        bought = self.frame[self.frame["purchased"]]
        return _median_gaps(bought[CUSTOMER_ID].to_numpy(), bought[DAY].to_numpy())


@dataclass(frozen=True, eq=False)
class ContactDays:
    """Distinct (``customer_id``, ``day``) pairs with an interaction, sorted by customer then day."""

    frame: pd.DataFrame

    @classmethod
    def from_interactions(cls, interactions: pd.DataFrame) -> ContactDays:
        """Validate an interactions frame (see ``frames``) and reduce it to days."""
        valid = validate_interactions(interactions)
        ids = valid[CUSTOMER_ID].to_numpy()
        days = _days(valid[OCCURRED_AT])
        order = _customer_day_order(ids, days)
        ids, days = ids[order], days[order]
        starts = _group_starts(ids, days)
        return cls(pd.DataFrame({CUSTOMER_ID: ids[starts], DAY: days[starts]}))

    def until(self, today: dt.date) -> ContactDays:
        """The contacts known at the end of ``today`` (this same object when none is later)."""
        if _all_until(self.frame, today):
            return self
        return ContactDays(self.frame[self.frame[DAY] <= day_number(today)])

    @cached_property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a contact: ``last_day`` and ``contact_days`` (distinct days)."""
        return self.frame.groupby(CUSTOMER_ID).agg(last_day=(DAY, "max"), contact_days=(DAY, "size"))

    def median_gap_days(self) -> pd.Series:
        """Each customer's median number of days between consecutive contact days."""
        return _median_gaps(self.frame[CUSTOMER_ID].to_numpy(), self.frame[DAY].to_numpy())


def _all_until(frame: pd.DataFrame, today: dt.date) -> bool:
    return frame.empty or int(frame[DAY].max()) <= day_number(today)


def _days(occurred_at: pd.Series) -> IntArray:
    return occurred_at.to_numpy().astype("datetime64[D]").astype(np.int64)


def _customer_day_order(ids: IntArray, days: IntArray) -> IntArray:
    """Row order by customer, then day.

    Sorting one combined integer key is several times faster than a two-key lexsort on millions of
    rows; the lexsort is only for id ranges so wide that the key would overflow.
    """
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    id_offset, day_offset = ids - ids.min(), days - days.min()
    span = int(day_offset.max()) + 1
    if (int(id_offset.max()) + 1) * span < 2**62:
        return np.argsort(id_offset * span + day_offset).astype(np.int64)
    return np.lexsort((days, ids)).astype(np.int64)


def _group_starts(ids: IntArray, days: IntArray) -> IntArray:
    """Positions where a new (customer, day) group begins in arrays sorted by customer then day."""
    changed = np.ones(len(ids), dtype=bool)
    changed[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    return np.flatnonzero(changed).astype(np.int64)


def _median_gaps(ids: IntArray, days: IntArray) -> pd.Series:
    """The median, not the mean: one long holiday should not make a weekly buyer look monthly."""
    same_customer = ids[1:] == ids[:-1]
    gaps = pd.Series(np.diff(days)[same_customer].astype("float64"))
    return gaps.groupby(ids[1:][same_customer]).median().rename_axis(CUSTOMER_ID)
