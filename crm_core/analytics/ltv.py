"""Lifetime value: what a customer has brought, and what the next 90 days should bring.

The prediction multiplies BG/NBD's expected purchases by an expected order value: Gamma-Gamma's when
it could be fitted, otherwise the customer's own historical average, which is honest when there is
too little data for a population model to shrink towards.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crm_core.analytics.aligned import aligned
from crm_core.analytics.bgnbd import UNIT_DAYS, BgNbdFit, bgnbd_summary, expected_purchases
from crm_core.analytics.gamma_gamma import GammaGammaParams, expected_order_value, spend_summary
from crm_core.analytics.history import PurchaseDays

HORIZON_DAYS = 90

LTV_COLUMNS = (
    "historical_revenue",
    "expected_purchases_90d",
    "expected_order_value",
    "predicted_value_90d",
)


def lifetime_value(
    days: PurchaseDays,
    today: dt.date,
    bgnbd: BgNbdFit | None,
    spend: GammaGammaParams | None,
) -> pd.DataFrame:
    """Per customer who bought by ``today`` (see ``LTV_COLUMNS``), indexed by customer_id.

    ``historical_revenue`` is net of refunds. Without a BG/NBD fit nothing is predicted (NaN): a guess
    without a model would look as authoritative as a real prediction on the profile card.
    """
    known = days.until(today)
    history, revenue = known.per_customer, known.net_revenue
    if spend is None:
        order_value = (revenue / history["purchase_days"]).clip(lower=0.0).to_numpy()
    else:
        observed = aligned(spend_summary(days, today), history.index)
        order_value = expected_order_value(spend, observed["x"], observed["mean_value"])
    if bgnbd is None:
        purchases_90d = np.full(len(history), np.nan)
    else:
        summary = aligned(bgnbd_summary(days, today, unit=bgnbd.unit), history.index)
        horizon = HORIZON_DAYS / UNIT_DAYS[bgnbd.unit]
        purchases_90d = expected_purchases(bgnbd.params, horizon, summary["x"], summary["t_x"], summary["T"])
    return pd.DataFrame(
        {
            "historical_revenue": revenue.to_numpy(),
            "expected_purchases_90d": purchases_90d,
            "expected_order_value": order_value,
            "predicted_value_90d": purchases_90d * order_value,
        },
        index=history.index,
        columns=list(LTV_COLUMNS),
        copy=False,  # the columns as computed, not copied into one consolidated block
    )
