"""Small builders for the analytics' input frames, so tests read as timelines."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pandas as pd

from crm_core.analytics.history import ContactDays, PurchaseDays

CDNOW_SAMPLE = Path(__file__).parents[2] / "data" / "CDNOW_sample.txt"
CDNOW_CALIBRATION_END = dt.date(1997, 9, 30)


def purchases(*rows: tuple[int, str, float]) -> pd.DataFrame:
    """(customer_id, "YYYY-MM-DD[ HH:MM]", amount) rows as a purchases frame."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series([row[0] for row in rows], dtype="int64"),
            "occurred_at": pd.to_datetime(
                pd.Series([row[1] for row in rows], dtype="object"), format="ISO8601"
            ),
            "amount": pd.Series([row[2] for row in rows], dtype="float64"),
        }
    )


def interactions(*rows: tuple[int, str]) -> pd.DataFrame:
    """(customer_id, "YYYY-MM-DD[ HH:MM]") rows as an interactions frame."""
    return purchases(*((customer_id, when, 0.0) for customer_id, when in rows)).drop(columns="amount")


def purchase_days(*rows: tuple[int, str, float]) -> PurchaseDays:
    return PurchaseDays.from_purchases(purchases(*rows))


def contact_days(*rows: tuple[int, str]) -> ContactDays:
    return ContactDays.from_interactions(interactions(*rows))


def customers(*ids: int, **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="int64"), **columns})


@cache
def cdnow_purchases() -> PurchaseDays:
    raw = pd.read_csv(
        CDNOW_SAMPLE,
        sep=r"\s+",
        header=None,
        names=["original_id", "customer_id", "date", "cds", "amount"],
        dtype={"date": str},
    )
    frame = pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "occurred_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"],
        }
    )
    return PurchaseDays.from_purchases(frame)
