"""Purchases of regular customers, the pattern of a salon or a subscription, to check churn scores on.

Each customer has a cadence of their own, drawn uniformly between 2 and 8 weeks, and comes back
after each visit at that cadence give or take a little (a Gamma gap with mean the cadence and a
coefficient of variation of ``GAP_JITTER``: regular, not clockwork). After each visit they leave
for good with a probability of their own (Beta(``LEAVE_A``, ``LEAVE_B``): mean 1/13, so a typical
customer stays for about a year of monthly visits). First visits are spread evenly over the
history. Dates are relative to ``today``; the same seed gives the same rows.

Retail buyers are irregular and mostly buy once, which is what BG/NBD and its kin were made for;
these are the opposite, and the churn scores must serve both (see docs/ANALYTICS.md).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

CADENCE_DAYS = (14.0, 56.0)
GAP_JITTER = 0.2
LEAVE_A, LEAVE_B = 1.0, 12.0
HISTORY_DAYS = 730
SPEND_YEN = 6_000.0


def regular_purchases(*, customers: int, today: dt.date, seed: int = 1) -> pd.DataFrame:
    """``customer_id`` (1…n), ``occurred_at`` (noon) and ``amount`` of each visit up to ``today``."""
    rng = np.random.default_rng(seed)
    cadence = rng.uniform(*CADENCE_DAYS, size=customers)
    leave = rng.beta(LEAVE_A, LEAVE_B, size=customers)
    first = rng.uniform(0.0, HISTORY_DAYS, size=customers)
    visits = np.minimum(rng.geometric(leave), 10_000)  # visits made before leaving, the first included
    owner = np.repeat(np.arange(customers), visits)
    shape = 1.0 / GAP_JITTER**2
    gaps = rng.gamma(shape, cadence[owner] / shape)
    starts = np.cumsum(visits) - visits
    gaps[starts] = 0.0  # the first visit has no gap before it
    ends = np.cumsum(gaps)
    offset = ends - np.repeat(ends[starts], visits)
    day = first[owner] + offset
    seen = day < HISTORY_DAYS
    start = np.datetime64(today - dt.timedelta(days=HISTORY_DAYS), "D") + np.timedelta64(12, "h")
    return pd.DataFrame(
        {
            "customer_id": (owner[seen] + 1).astype("int64"),
            "occurred_at": start + np.floor(day[seen]).astype("int64").astype("timedelta64[D]"),
            "amount": np.round(SPEND_YEN * rng.lognormal(0.0, 0.2, size=int(seen.sum())), -1),
        }
    )
