"""RFM scores (quintiles 1–5) and the named segments managers know.

Scores are relative positions among the customers who bought: 5 is the best fifth. Tied customers
share a score (their mean position), so a score never depends on row order or on customer ids, and a
lone customer, or a crowd of identical ones, sits in the middle (3) rather than at an arbitrary end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.frames import CUSTOMER_ID
from crm_core.analytics.history import PurchaseDays, day_number

RFM_COLUMNS = (
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
)


@dataclass(frozen=True)
class SegmentRule:
    """Customers whose R score and FM score (the mean of F and M, rounded down) fall in both ranges."""

    segment: str
    r: tuple[int, int]
    fm: tuple[int, int]


# The usual R against F-M grid. First match wins: "Can't Lose Them" is carved out of "At Risk".
SEGMENT_RULES = (
    SegmentRule("Champions", r=(4, 5), fm=(4, 5)),
    SegmentRule("Loyal", r=(3, 3), fm=(4, 5)),
    SegmentRule("Potential Loyalists", r=(4, 5), fm=(2, 3)),
    SegmentRule("New", r=(5, 5), fm=(1, 1)),
    SegmentRule("Promising", r=(4, 4), fm=(1, 1)),
    SegmentRule("Need Attention", r=(3, 3), fm=(2, 3)),
    SegmentRule("About to Sleep", r=(3, 3), fm=(1, 1)),
    SegmentRule("Can't Lose Them", r=(1, 1), fm=(4, 5)),
    SegmentRule("At Risk", r=(1, 2), fm=(3, 5)),
    SegmentRule("Hibernating", r=(2, 2), fm=(1, 2)),
    SegmentRule("Lost", r=(1, 1), fm=(1, 2)),
)
SEGMENTS = tuple(rule.segment for rule in SEGMENT_RULES)
# "545" for R=5, F=4, M=5: a categorical of the 125 codes, as a million string joins take seconds.
RFM_CODE_DTYPE = pd.CategoricalDtype(
    [f"{r}{f}{m}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
)


def segment_grid(rules: tuple[SegmentRule, ...] = SEGMENT_RULES) -> list[list[str]]:
    """The 5×5 table ``grid[r - 1][fm - 1]`` the rules describe; raises if a cell is left uncovered."""
    grid: list[list[str]] = []
    for r in range(1, 6):
        row = []
        for fm in range(1, 6):
            matches = [rule.segment for rule in rules if _within(r, rule.r) and _within(fm, rule.fm)]
            if not matches:
                raise ValueError(f"no segment rule covers R={r}, FM={fm}")
            row.append(matches[0])
        grid.append(row)
    return grid


def rfm_scores(days: PurchaseDays, today: dt.date) -> pd.DataFrame:
    """RFM per customer who bought by ``today``, indexed by customer_id (see ``RFM_COLUMNS``).

    Frequency counts purchase days; monetary is net of refunds (it can be negative); recency is
    whole days since the last purchase day. Purchases after ``today`` do not exist yet.
    """
    known = days.until(today)
    history = known.per_customer
    recency_days = (day_number(today) - history["last_day"]).astype("int64")
    frequency = history["purchase_days"].astype("int64")
    monetary = known.net_revenue.astype("float64")
    r_score = quintile_scores(-recency_days)
    f_score = quintile_scores(frequency)
    m_score = quintile_scores(monetary)
    grid = np.array(segment_grid(), dtype=object)
    segment = grid[r_score.to_numpy() - 1, (f_score.to_numpy() + m_score.to_numpy()) // 2 - 1]
    return pd.DataFrame(
        {
            "recency_days": recency_days,
            "frequency": frequency,
            "monetary": monetary,
            "r_score": r_score,
            "f_score": f_score,
            "m_score": m_score,
            "rfm_score": pd.Categorical.from_codes(
                (r_score.to_numpy() - 1) * 25 + (f_score.to_numpy() - 1) * 5 + m_score.to_numpy() - 1,
                dtype=RFM_CODE_DTYPE,
            ),
            "segment": pd.Categorical(segment, categories=SEGMENTS),
        },
        index=pd.Index(history.index, name=CUSTOMER_ID),
        columns=list(RFM_COLUMNS),
        copy=False,  # a block per column: the scores take five of these, not one consolidated block
    )


def quintile_scores(values: pd.Series) -> pd.Series:
    """1–5 by mean rank (higher value, higher score): score = ⌈5·(rank − ½)/n⌉.

    With distinct values this is the classic equal-count quintile cut (exactly so when n is a
    multiple of 5); ties get the score of their mean position instead of being split arbitrarily.
    """
    if values.empty:
        return values.astype("int64")
    rank = _mean_ranks(values)
    score = np.ceil(5.0 * (2.0 * rank - 1.0) / (2.0 * len(values)))
    return pd.Series(np.clip(score, 1, 5).astype("int64"), index=values.index)


def _mean_ranks(values: pd.Series) -> NDArray[np.float64]:
    """``values.rank(method="average")``; for integers of a narrow range (days of recency, counts of
    purchase days) by counting each value instead of sorting: at a million customers the sort took
    a tenth of a second per column. A tie's mean rank, the rank before it plus (count + 1) / 2, is a
    whole or half number, so both ways give the same doubles."""
    array = values.to_numpy()
    if not pd.api.types.is_integer_dtype(array.dtype):
        return np.asarray(values.rank(method="average").to_numpy(), dtype=np.float64)
    low = int(array.min())
    if int(array.max()) - low > 4 * len(array):
        return np.asarray(values.rank(method="average").to_numpy(), dtype=np.float64)
    offsets = array - low
    counts = np.bincount(offsets)
    ranks: NDArray[np.float64] = ((np.cumsum(counts) - counts) + (counts + 1) / 2.0)[offsets]
    return ranks


def _within(score: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= score <= bounds[1]
