"""Day-level purchase and contact histories, aggregated once and shared by every model.

Purchases are counted per calendar day everywhere (BG/NBD, RFM, KPIs): a basket split into several
orders on one day is one purchase occasion, and the numbers on a profile card agree with each other.
Days are integers (days since 1970-01-01) so gaps and windows are plain arithmetic on arrays, and
the raw frames are validated and aggregated once (the costly step for millions of rows), after which
each model only cuts the history at its own ``today`` with ``until``.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.frames import (
    AMOUNT,
    CUSTOMER_ID,
    DAY,
    validate_interactions,
    validate_purchases,
)

_EPOCH = pd.Timestamp("1970-01-01")

IntArray = NDArray[np.int64]


def day_number(when: dt.date) -> int:
    """The integer day of a date (a datetime counts as its calendar day)."""
    return int((pd.Timestamp(when).normalize() - _EPOCH) // pd.Timedelta(days=1))


def day_timestamps(days: pd.Series) -> pd.Series:
    """Integer days back to midnight timestamps, for frames that people read."""
    stamps = days.to_numpy(dtype="float64").astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(stamps, index=days.index)


class _DayRows:
    """Rows sorted by customer then day, or those of a longer history up to a day (``until``).

    A cut keeps a prefix of each customer's rows. Its summaries are read off the uncut rows, and
    only the customers the cut changed are summarised again; the cut rows themselves are copied
    out only if ``frame`` is asked for. The digest judges several past days of histories with tens
    of millions of rows, and copying them for each day was most of its peak memory.
    """

    DAYS_COLUMN: ClassVar[str]  # the column of ``per_customer`` counting each customer's days

    def __init__(self, frame: pd.DataFrame, *, uncut: Self | None = None, cut_day: int | None = None) -> None:
        # The uncut rows; a cut also names the history they belong to, whose summaries it reuses.
        self._rows = frame
        self.uncut = uncut
        self.cut_day = cut_day

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The rows; treat them (like every cached summary here) as read-only."""
        if self.cut_day is None:
            return self._rows
        return self._rows[self._rows[DAY].to_numpy() <= self.cut_day]

    def until(self, today: dt.date) -> Self:
        """The history as it was known at the end of ``today``: later rows do not exist yet.

        When nothing is later this is the same object, so summaries cached on it are shared by
        every model that cuts the history at the same day.
        """
        day = day_number(today)
        if self.uncut is not None and self.cut_day is not None:
            return self if day >= self.cut_day else self.uncut.until(today)
        if self._rows.empty or int(self._rows[DAY].max()) <= day:
            return self
        return type(self)(self._rows, uncut=self, cut_day=day)

    @property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with activity: at least ``DAYS_COLUMN``, the number of distinct days."""
        raise NotImplementedError

    @cached_property
    def median_gap_days(self) -> pd.Series:
        """Each customer's median number of days between consecutive days of activity.

        A cut recomputes it only for the customers with activity after the cut.
        """
        if self.uncut is None or self.cut_day is None:
            return _median_gaps(*self._days())
        uncut = self.uncut.median_gap_days, self.uncut.per_customer[self.DAYS_COLUMN]
        counts = self.per_customer[self.DAYS_COLUMN]
        return _median_gaps_after_cut(*self._days(), self.cut_day, counts, uncut)

    def _days(self) -> tuple[IntArray, IntArray]:
        """Customer ids and days of the uncut rows that count as activity."""
        raise NotImplementedError


class PurchaseDays(_DayRows):
    """One row per customer and day with a purchase or refund, sorted by customer then day.

    ``frame`` columns: ``customer_id``, ``day``, ``spend`` (bought that day, refunds left out: order
    values must be positive for the spend model), ``net`` (refunds subtracted: what the business
    kept) and ``purchased`` (false on refund-only days, so a refund is never a purchase occasion).
    """

    DAYS_COLUMN = "purchase_days"

    @classmethod
    def from_purchases(cls, purchases: pd.DataFrame) -> PurchaseDays:
        """Validate a purchases frame (see ``frames``) and aggregate it to days."""
        valid = validate_purchases(purchases)
        order = _customer_day_order(valid[CUSTOMER_ID].to_numpy(), valid[DAY].to_numpy())
        ids, days, amount = (valid[column].to_numpy()[order] for column in (CUSTOMER_ID, DAY, AMOUNT))
        starts = _run_starts(ids, days)
        bought = amount >= 0
        frame = pd.DataFrame(
            {
                CUSTOMER_ID: ids[starts],
                DAY: days[starts],
                "spend": np.add.reduceat(np.where(bought, amount, 0.0), starts),
                "net": np.add.reduceat(amount, starts),
                "purchased": np.logical_or.reduceat(bought, starts),
            },
            copy=False,
        )
        return cls(frame)

    @cached_property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a purchase day: ``first_day``, ``last_day``, ``purchase_days``, ``net_revenue``.

        ``net_revenue`` subtracts refunds from any day, so revenue is what the business kept.
        """
        history = _first_last_count(*self._days(), self.DAYS_COLUMN, self.cut_day)
        rows = self._rows[[CUSTOMER_ID, "net"]]
        if self.cut_day is not None:
            rows = rows[self._rows[DAY].to_numpy() <= self.cut_day]
        # Summed by pandas (compensated summation), as revenue always was.
        history["net_revenue"] = rows.groupby(CUSTOMER_ID, sort=False)["net"].sum().reindex(history.index)
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

    def _days(self) -> tuple[IntArray, IntArray]:
        """Customer ids and days of the uncut rows with a purchase (not a refund only)."""
        purchased = self._rows["purchased"].to_numpy()
        return self._rows[CUSTOMER_ID].to_numpy()[purchased], self._rows[DAY].to_numpy()[purchased]


class ContactDays(_DayRows):
    """Distinct (``customer_id``, ``day``) pairs with an interaction, sorted by customer then day."""

    DAYS_COLUMN = "contact_days"

    @classmethod
    def from_interactions(cls, interactions: pd.DataFrame) -> ContactDays:
        """Validate an interactions frame (see ``frames``) and reduce it to days."""
        valid = validate_interactions(interactions)
        order = _customer_day_order(valid[CUSTOMER_ID].to_numpy(), valid[DAY].to_numpy())
        ids, days = (valid[column].to_numpy()[order] for column in (CUSTOMER_ID, DAY))
        starts = _run_starts(ids, days)
        if len(starts) < len(ids):
            ids, days = ids[starts], days[starts]
        # Else the rows are distinct days already (the loader reads them so) and are shared, not
        # copied: ten million of them are worth keeping once only.
        return cls(pd.DataFrame({CUSTOMER_ID: ids, DAY: days}, copy=False))

    @cached_property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a contact: ``last_day`` and ``contact_days`` (distinct days)."""
        summary = _first_last_count(*self._days(), self.DAYS_COLUMN, self.cut_day)
        return summary.drop(columns="first_day")

    def _days(self) -> tuple[IntArray, IntArray]:
        """Customer ids and days of the uncut rows."""
        return self._rows[CUSTOMER_ID].to_numpy(), self._rows[DAY].to_numpy()


def _customer_day_order(ids: IntArray, days: IntArray) -> IntArray | slice:
    """Row order by customer, then day: all rows as they are when already so ordered.

    The store's loader usually reads rows in that order (an index's), and checking costs a
    fraction of a sort. Sorting one combined integer key is several times faster than a two-key
    lexsort on millions of rows; the lexsort is only for id ranges so wide that the key would
    overflow.
    """
    if _in_customer_day_order(ids, days):
        return slice(None)
    id_offset, day_offset = ids - ids.min(), days - days.min()
    span = int(day_offset.max()) + 1
    if (int(id_offset.max()) + 1) * span < 2**62:
        return np.argsort(id_offset * span + day_offset).astype(np.int64)
    return np.lexsort((days, ids)).astype(np.int64)


def _in_customer_day_order(ids: IntArray, days: IntArray) -> bool:
    """One pass over the rows, where sorting would take several."""
    later_customer = ids[1:] > ids[:-1]
    return bool(np.all(later_customer | ((ids[1:] == ids[:-1]) & (days[1:] >= days[:-1]))))


def _run_starts(*keys: IntArray) -> IntArray:
    """Positions where a run of equal keys begins, in arrays sorted by those keys."""
    changed = np.zeros(len(keys[0]), dtype=bool)
    changed[:1] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed).astype(np.int64)


def _first_last_count(ids: IntArray, days: IntArray, count: str, cut_day: int | None = None) -> pd.DataFrame:
    """``first_day``, ``last_day`` and the number of rows per customer, from rows sorted by customer
    then day, counting only the days up to ``cut_day`` when given.

    Plain positions in sorted arrays: several times faster than a groupby, which hashes its keys,
    and this summary is taken for every day the history is cut at.
    """
    starts = _run_starts(ids)
    sizes = np.diff(np.append(starts, len(ids)))
    if cut_day is not None and len(starts):
        # Up to a day each customer keeps a prefix of their rows: its length is all that changes.
        sizes = np.add.reduceat(days <= cut_day, starts, dtype=np.int64)
    kept = sizes > 0
    starts, sizes = starts[kept], sizes[kept]
    return pd.DataFrame(
        {"first_day": days[starts], "last_day": days[starts + sizes - 1], count: sizes},
        index=pd.Index(ids[starts], name=CUSTOMER_ID),
    )


def _median_gaps(ids: IntArray, days: IntArray) -> pd.Series:
    """The median, not the mean: one long holiday should not make a weekly buyer look monthly."""
    same_customer = ids[1:] == ids[:-1]
    gaps = pd.Series(np.diff(days)[same_customer].astype("float64"))
    return gaps.groupby(ids[1:][same_customer]).median().rename_axis(CUSTOMER_ID)


def _median_gaps_after_cut(
    ids: IntArray, days: IntArray, cut_day: int, counts: pd.Series, uncut: tuple[pd.Series, pd.Series]
) -> pd.Series:
    """``_median_gaps`` of the rows up to ``cut_day``, computed again only for the customers the cut changed.

    ``ids`` and ``days`` are the uncut rows, ``counts`` the rows per customer up to the cut, and
    ``uncut`` the medians and counts of all rows. A cut only drops each customer's latest days, so
    a customer with as many days as before has the same gaps, and the same median. Digests judge
    a week and a month ago, when most customers had already had their last contact: this spares
    recomputing the medians of every customer, the costliest step for millions of days.
    """
    uncut_medians, uncut_counts = uncut
    changed = counts.reindex(uncut_counts.index, fill_value=0).to_numpy() != uncut_counts.to_numpy()
    rows = np.repeat(changed, uncut_counts.to_numpy()) & (days <= cut_day)
    recomputed = _median_gaps(ids[rows], days[rows])
    kept = uncut_medians[~uncut_medians.index.isin(uncut_counts.index[changed])]
    medians: pd.Series = pd.concat([kept, recomputed]).sort_index()
    return medians
