import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.scores import SCORE_COLUMNS, score_customers
from tests.crm_core.analytics.analytics_frames import (
    CDNOW_CALIBRATION_END,
    cdnow_purchases,
    customers,
    interactions,
    purchases,
)

TODAY = dt.date(2024, 6, 30)
NO_INTERACTIONS = interactions()


def test_every_customer_gets_a_row_even_without_history() -> None:
    scores, fits = score_customers(
        customers(1, 2, 3),
        purchases((1, "2024-06-29", 40.0), (1, "2024-07-15", 99.0)),
        interactions((2, "2024-06-01")),
        TODAY,
    )

    assert tuple(scores.columns) == SCORE_COLUMNS
    assert scores.index.tolist() == [1, 2, 3]
    assert (fits.bgnbd, fits.spend) == (None, None)  # far too little data for either model
    first = scores.loc[1]
    assert first[["historical_revenue", "frequency", "days_since_first_purchase"]].tolist() == [40.0, 1, 1]
    assert (first["vip"], first["next_step"]) == (True, "Thank-you follow-up in 3 days")
    assert np.isnan(first["predicted_value_90d"])
    assert scores.loc[[2, 3], "p_alive"].isna().all()
    assert scores.loc[[2, 3], "vip"].tolist() == [False, False]
    assert scores["churn_risk"].tolist() == ["ok", "ok", "ok"]


def test_cdnow_customers_are_scored_with_both_models() -> None:
    cdnow = cdnow_purchases().frame
    everyone = customers(*range(1, 2358))
    raw = pd.DataFrame(
        {
            "customer_id": cdnow["customer_id"],
            "occurred_at": pd.to_datetime(cdnow["day"], unit="D"),
            "amount": cdnow["net"],
        }
    )

    scores, fits = score_customers(everyone, raw, NO_INTERACTIONS, CDNOW_CALIBRATION_END)

    assert fits.bgnbd is not None and fits.spend is not None
    assert fits.bgnbd.params.alpha / 7 == pytest.approx(4.414, rel=0.01)
    assert scores["p_alive"].between(0, 1).all()
    np.testing.assert_allclose(
        scores["predicted_value_90d"], scores["expected_purchases_90d"] * scores["expected_order_value"]
    )
    assert set(scores["churn_risk"]) == {"ok", "at_risk", "churned"}
    assert scores["vip"].mean() < 0.5

    # Purchases after today must not change anything: the same day scored on truncated data.
    truncated = raw[raw["occurred_at"] <= pd.Timestamp(CDNOW_CALIBRATION_END)]
    rescored, refits = score_customers(everyone, truncated, NO_INTERACTIONS, CDNOW_CALIBRATION_END)
    pd.testing.assert_frame_equal(rescored, scores)
    assert refits == fits
