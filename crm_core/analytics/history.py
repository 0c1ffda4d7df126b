"""Day-level purchase and contact histories, aggregated once and shared by every model.

Purchases are counted per calendar day everywhere (BG/NBD, RFM, KPIs): a basket split into several
orders on one day is one purchase occasion, and the numbers on a profile card agree with each other.
Days are integers (days since 1970-01-01) so gaps and windows are plain arithmetic on arrays, and
the raw frames are validated and aggregated once (the costly step for millions of rows), after which
each model only cuts the history at its own ``today`` with ``until``.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.aligned import aligned
from crm_core.analytics.cached import cached
from crm_core.analytics.frames import (
    AMOUNT,
    CUSTOMER_ID,
    DAY,
    IntArray,
    validate_interactions,
    validate_purchases,
)

_EPOCH = pd.Timestamp("1970-01-01")

# How many cuts of a history (by day) are kept with their summaries for the next model to reuse.
KEPT_CUTS = 1
# What ``forget_summaries`` keeps of a history's cached properties: the rows themselves.
_ROWS_KEPT = frozenset({"frame", "_last_day", "_activity"})
# Rows per run of the median gaps' sort (see ``_median_gaps``).
MEDIAN_ROWS = 1_000_000


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
        # The latest cuts of an uncut history by day (see ``until``).
        self._cuts: dict[int, Self] = {}

    @cached
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
        if day >= self._last_day:
            return self
        # The models cut at the same few days one after the other (the return model's origin three
        # times in a row): the last cuts are kept with their summaries, not summarised again. Only
        # the last few, as each holds summaries of every customer.
        cut = self._cuts.pop(day, None) or type(self)(self._rows, uncut=self, cut_day=day)
        self._cuts[day] = cut
        while len(self._cuts) > KEPT_CUTS:
            del self._cuts[next(iter(self._cuts))]
        return cut

    def activity_days(self) -> tuple[IntArray, IntArray]:
        """Customer ids and days of the rows that count as activity (purchase days, not refund-only
        ones; contact days), sorted by customer then day: arrays to read, not to write."""
        ids, days, _starts, _sizes = self._activity
        if self.cut_day is None:
            return ids, days
        kept = days <= self.cut_day
        return ids[kept], days[kept]

    def summarised(self) -> Self:
        """This history with the summaries every model reads of it made now: the morning job makes
        them on the thread that prepared the history, beside the other history's reading."""
        _ = self.per_customer, self._medians_per_customer
        return self

    def forget_cuts(self) -> None:
        """Let the kept cuts go (see ``until``), when no model will cut this history again."""
        self._cuts.clear()

    def forget_summaries(self) -> None:
        """Let the cuts and the per-customer summaries go, keeping the rows (``activity_days``):
        once the scores are assembled only the KPIs' windows read the history, and at a million
        customers the cached summaries are about a hundred MB at the job's highest moment."""
        self.forget_cuts()
        for name in [name for name in vars(self) if name not in _ROWS_KEPT]:
            if isinstance(getattr(type(self), name, None), cached):
                del self.__dict__[name]

    @cached
    def _last_day(self) -> int:
        """The latest day of the uncut rows (before any, when there are none)."""
        return int(self._rows[DAY].max()) if len(self._rows) else -(2**62)

    @cached
    def _activity(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Customer ids and days of the uncut rows that count as activity, and where each
        customer's rows start in them and how many there are; computed once, shared by the cuts."""
        if self.uncut is not None:
            return self.uncut._activity
        ids, days = self._days()
        starts = _run_starts(ids)
        return ids, days, starts, np.diff(np.append(starts, len(ids)))

    @property
    def per_customer(self) -> pd.DataFrame:
        """Per customer with activity: at least ``DAYS_COLUMN``, the number of distinct days."""
        raise NotImplementedError

    @cached
    def median_gap_days(self) -> pd.Series:
        """Each customer's median number of days between consecutive days of activity.

        A cut recomputes it only for the customers with activity after the cut.
        """
        ids, days, starts, sizes = self._activity
        if self.uncut is None or self.cut_day is None:
            return _median_gaps(ids, days)
        return _median_gaps_after_cut(
            ids, days, starts, sizes, self._cut_sizes, self.uncut._medians_per_customer
        )

    @cached
    def _medians_per_customer(self) -> NDArray[np.float64]:
        """``median_gap_days`` for every customer of the rows, in their order (NaN without one):
        what a cut starts from."""
        ids, _days, starts, _sizes = self._activity
        medians = self.median_gap_days
        per_customer = np.full(len(starts), np.nan)
        per_customer[np.searchsorted(ids[starts], medians.index.to_numpy())] = medians.to_numpy()
        return per_customer

    @cached
    def _cut_sizes(self) -> IntArray:
        """Each customer's number of activity rows up to the cut (all of them when uncut), in the
        order of the uncut rows' customers."""
        _ids, days, starts, sizes = self._activity
        if self.cut_day is None or not len(starts):
            return sizes
        # Up to a day each customer keeps a prefix of their rows: its length is all that changes.
        # A cut a week or a month back drops a few percent of the rows: counting those per customer
        # costs a tenth of counting the kept ones (ten million contact days: 0.17 s -> 0.01 s).
        later = np.flatnonzero(days > self.cut_day)
        if len(later) * 8 > len(days):
            return np.add.reduceat(days <= self.cut_day, starts, dtype=np.int64)
        customer = np.searchsorted(starts, later, side="right") - 1
        return sizes - np.bincount(customer, minlength=len(starts))

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

    @cached
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a purchase day: ``first_day``, ``last_day``, ``purchase_days``.

        Revenue is apart (``net_revenue``): most models that cut the history need only the days.
        """
        return _first_last_count(*self._activity, self._cut_sizes, self.DAYS_COLUMN)

    @cached
    def net_revenue(self) -> pd.Series:
        """Per customer of ``per_customer`` (same index), refunds subtracted from any day: what the
        business kept."""
        rows = self._rows[[CUSTOMER_ID, "net"]]
        if self.cut_day is not None:
            rows = rows[self._rows[DAY].to_numpy() <= self.cut_day]
        # Summed by pandas (compensated summation), as revenue always was.
        revenue: pd.Series = rows.groupby(CUSTOMER_ID, sort=False)["net"].sum()
        return aligned(revenue, self.per_customer.index).rename("net_revenue")

    @cached
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
                "x": aligned(repeats["size"], buyers, fill_value=0).astype("float64"),
                "mean_value": aligned(repeats["mean"], buyers, fill_value=0.0),
            }
        )

    def _days(self) -> tuple[IntArray, IntArray]:
        """Customer ids and days of the uncut rows with a purchase (not a refund only)."""
        purchased = self._rows["purchased"].to_numpy()
        ids, days = self._rows[CUSTOMER_ID].to_numpy(), self._rows[DAY].to_numpy()
        if purchased.all():  # no refund-only day: the rows themselves, not a copy of millions
            return ids, days
        return ids[purchased], days[purchased]


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

    @cached
    def per_customer(self) -> pd.DataFrame:
        """Per customer with a contact: ``last_day`` and ``contact_days`` (distinct days)."""
        summary = _first_last_count(*self._activity, self._cut_sizes, self.DAYS_COLUMN)
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
    # In int64: the rows' ids and days may be int32, and the combined key would overflow them.
    id_offset, day_offset = ids.astype(np.int64) - ids.min(), days.astype(np.int64) - days.min()
    span = int(day_offset.max()) + 1
    keys = (int(id_offset.max()) + 1) * span
    if keys < 2**62:
        key = id_offset * span + day_offset
        # Stable: rows of one customer and day keep the order they were read in, on any CPU (an
        # unstable sort's order of equal keys depends on the machine's vector instructions, and
        # that order is the order their amounts are summed in). 32 bits where the key fits:
        # 4.6M purchases at 1M customers sort in 0.47 s against 0.65 s.
        return np.argsort(key.astype(np.uint32) if keys < 2**32 else key, kind="stable").astype(
            np.int64, copy=False
        )
    return np.lexsort((days, ids)).astype(np.int64, copy=False)


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
    return np.flatnonzero(changed).astype(np.int64, copy=False)  # no copy of ten million positions


def _first_last_count(
    ids: IntArray, days: IntArray, starts: IntArray, sizes: IntArray, kept_sizes: IntArray, count: str
) -> pd.DataFrame:
    """``first_day``, ``last_day`` and the number of rows per customer, from rows sorted by customer
    then day (each customer's rows from ``starts``, ``sizes`` long), keeping each customer's first
    ``kept_sizes`` rows (a cut keeps a prefix) and the customers left with any.

    Plain positions in sorted arrays: several times faster than a groupby, which hashes its keys,
    and this summary is taken for every day the history is cut at.
    """
    kept = kept_sizes > 0
    starts, kept_sizes = starts[kept], kept_sizes[kept]
    return pd.DataFrame(
        {
            "first_day": days[starts].astype(np.int64),
            "last_day": days[starts + kept_sizes - 1].astype(np.int64),
            count: kept_sizes,
        },
        index=_customer_index(ids[starts]),
    )


def _customer_index(ids: IntArray) -> pd.Index:
    """Per-customer results are indexed by int64 ids, whatever the rows hold (see ``frames``)."""
    return pd.Index(ids.astype(np.int64), name=CUSTOMER_ID)


def _median_gaps(ids: IntArray, days: IntArray) -> pd.Series:
    """``_median_gaps_of`` in runs of about ``MEDIAN_ROWS`` rows that never split a customer.

    Each customer's median depends on their own rows only, so the result is the same, and the
    sort's temporaries (seven arrays as long as the rows) are those of one run: for ten million
    contact days they were a few hundred MB at once, the morning job's highest moment.
    """
    if len(ids) <= MEDIAN_ROWS:
        return _median_gaps_of(ids, days)
    customer_starts = _run_starts(ids)
    wanted = np.arange(MEDIAN_ROWS, len(ids), MEDIAN_ROWS)
    cuts = np.unique(
        customer_starts[np.minimum(np.searchsorted(customer_starts, wanted), len(customer_starts) - 1)]
    )
    bounds = [0, *(int(cut) for cut in cuts if cut > 0), len(ids)]
    runs = [_median_gaps_of(ids[low:high], days[low:high]) for low, high in pairwise(bounds)]
    medians: pd.Series = pd.concat(runs)
    return medians


def _median_gaps_of(ids: IntArray, days: IntArray) -> pd.Series:
    """The median, not the mean: one long holiday should not make a weekly buyer look monthly.

    Per customer with at least two days, from rows sorted by customer then day. Each gap is
    sorted within its customer by sorting one integer key (customer's rank, gap), which numpy
    does several times faster than a groupby's median, and the median is read off the middle
    positions: the middle gap, or the mean of the two middle ones, as pandas computes it.
    """
    same_customer = ids[1:] == ids[:-1]
    gaps = np.diff(days)[same_customer]
    customers = ids[1:][same_customer]
    starts = _run_starts(customers)
    if not len(starts):
        return pd.Series(np.empty(0), index=_customer_index(customers), dtype="float64")
    sizes = np.diff(np.append(starts, len(customers)))
    low = int(gaps.min())
    span = int(gaps.max()) - low + 1
    if len(starts) * span < 2**62:
        # The narrowest key that holds (rank, gap): numpy sorts 32-bit integers about 1.7 times as
        # fast as 64-bit ones, and the order, so every median, is the same.
        width = np.uint32 if len(starts) * span < 2**32 else np.int64
        rank = np.repeat(np.arange(len(starts), dtype=width) * span, sizes)
        key = rank + (gaps - low).astype(width)
        key.sort()
        middle = (key[starts + (sizes - 1) // 2] - rank[starts]).astype(np.int64) + low
        upper = (key[starts + sizes // 2] - rank[starts]).astype(np.int64) + low
    else:  # gaps too wide for one key: sort each customer's gaps by a two-key sort
        ordered = gaps[np.lexsort((gaps, customers))]
        middle, upper = ordered[starts + (sizes - 1) // 2], ordered[starts + sizes // 2]
    medians = (middle.astype("float64") + upper.astype("float64")) / 2.0
    return pd.Series(medians, index=_customer_index(customers[starts]))


def _median_gaps_after_cut(
    ids: IntArray,
    days: IntArray,
    starts: IntArray,
    sizes: IntArray,
    kept_sizes: IntArray,
    uncut_medians: NDArray[np.float64],
) -> pd.Series:
    """``_median_gaps`` of the rows up to a cut, computed again only for the customers the cut changed.

    ``ids`` and ``days`` are the uncut rows, each customer's from ``starts``, ``sizes`` long, of
    which the first ``kept_sizes`` are up to the cut; ``uncut_medians`` are the medians of all
    rows per customer (NaN without one). A cut only drops each customer's latest days, so a
    customer with as many days as before has the same gaps, and the same median. Digests judge a
    week and a month ago, when most customers had already had their last contact: this spares
    recomputing the medians of every customer, the costliest step for millions of days, and
    only the changed customers' rows are gathered, not a mask of every row.
    """
    changed = np.flatnonzero(kept_sizes != sizes)
    lengths = kept_sizes[changed]
    # The positions of the changed customers' kept rows: each a run from its start.
    offsets = np.repeat(starts[changed] - (np.cumsum(lengths) - lengths), lengths)
    rows = offsets + np.arange(len(offsets))
    recomputed = _median_gaps(ids[rows], days[rows])
    customers = ids[starts]
    medians = uncut_medians.copy()
    medians[changed] = np.nan
    medians[changed[np.searchsorted(customers[changed], recomputed.index.to_numpy())]] = recomputed.to_numpy()
    has_median = ~np.isnan(medians)  # a median of whole-day gaps is never NaN
    return pd.Series(medians[has_median], index=_customer_index(customers[has_median]))
