"""Pareto VIPs: the few customers who bring most of the last year's revenue.

The window is the last 12 months so a big order from years ago does not make a VIP for life.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crm_core.analytics.aligned import aligned
from crm_core.analytics.frames import CUSTOMER_ID, DAY
from crm_core.analytics.history import PurchaseDays, day_number

VIP_REVENUE_SHARE = 0.8


def pareto_vips(days: PurchaseDays, today: dt.date, share: float = VIP_REVENUE_SHARE) -> pd.DataFrame:
    """``revenue_12m``, ``cumulative_share`` and ``vip`` per customer who bought by ``today``.

    VIPs are the smallest set of top customers whose revenue together reaches ``share`` of the window's
    revenue. Customers are ranked by revenue, ties by customer_id, so the cut is reproducible.
    Revenue is net of refunds; customers with none (or less than none) are never VIPs, and when
    nobody brought revenue there is no share to speak of (NaN) and no VIP.
    """
    known = days.until(today).frame
    window_start = day_number(pd.Timestamp(today) - pd.DateOffset(years=1))
    in_window = known[known[DAY] > window_start]
    customers = pd.Index(known[CUSTOMER_ID].unique().astype(np.int64), name=CUSTOMER_ID)
    revenue = aligned(in_window.groupby(CUSTOMER_ID)["net"].sum(), customers, fill_value=0.0)

    ranked = pd.DataFrame({"revenue_12m": revenue}).reset_index()
    ranked = ranked.sort_values(["revenue_12m", CUSTOMER_ID], ascending=[False, True])
    positive = ranked["revenue_12m"].clip(lower=0.0)
    total = float(positive.sum())
    cumulative = positive.cumsum()
    # A customer is needed while the revenue of everyone ranked above falls short of the target;
    # the tolerance keeps float sums such as 0.1 + 0.7 from needing one customer too many.
    target = share * total * (1.0 - 1e-12)
    ranked["vip"] = (positive > 0) & (cumulative - positive < target)
    ranked["cumulative_share"] = cumulative / total if total > 0 else np.nan
    return aligned(ranked.set_index(CUSTOMER_ID), customers)[["revenue_12m", "cumulative_share", "vip"]]
