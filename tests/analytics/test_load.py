"""The loader's day numbers: the calendar day in UTC of each stored time, exactly as pandas gives it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from crm_core.analytics.history import ContactDays, day_number
from crm_core.analytics.load import load_frames
from crm_core.models import Interaction, Purchase
from tests.factories import customer

# Stored naive UTC. The last microseconds of a day, which julianday() of the whole timestamp rounds
# to the next millisecond (and so to the next day), and a time before 1970, where truncating a
# negative fraction of a day towards zero would give the wrong day.
TIMES = (
    dt.datetime(2026, 11, 24, 23, 59, 59, 999_900),
    dt.datetime(2026, 11, 25, 0, 0),
    dt.datetime(2026, 11, 25, 18, 30),  # a second contact that day: one contact day
    dt.datetime(1969, 12, 31, 23, 0),
)


def _pandas_days(times: tuple[dt.datetime, ...]) -> list[int]:
    """What the analytics did before the loader computed days: parse, then floor to the day."""
    stamps = pd.to_datetime(pd.Series(times)).to_numpy()
    return sorted(set(stamps.astype("datetime64[D]").astype(np.int64).tolist()))


def test_days_are_the_utc_dates_of_the_stored_times(session: Session) -> None:
    someone = customer(session, "Acme")
    for when in TIMES:
        session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=when))
        session.add(Purchase(customer_id=someone.id, occurred_at=when, amount=100, currency="JPY"))
    session.flush()

    frames = load_frames(session)

    expected = _pandas_days(TIMES)
    assert expected == [-1, day_number(dt.date(2026, 11, 24)), day_number(dt.date(2026, 11, 25))]
    assert frames.interactions["day"].tolist() == expected
    assert frames.interactions["customer_id"].tolist() == [someone.id] * 3
    assert sorted(frames.purchases["day"].tolist()) == sorted(
        pd.to_datetime(pd.Series(TIMES)).to_numpy().astype("datetime64[D]").astype(np.int64).tolist()
    )
    assert frames.purchases["amount"].tolist() == [100.0] * len(TIMES)


def test_the_loaded_interactions_are_the_contact_history_without_a_copy(session: Session) -> None:
    for name, days in (("Acme", (3, 1, 2)), ("Globex", (5,))):
        someone = customer(session, name)
        for day in days:
            when = dt.datetime(2026, 11, day, 9)
            session.add(Interaction(customer_id=someone.id, kind="call", summary="s", occurred_at=when))
    session.flush()

    interactions = load_frames(session).interactions
    contacts = ContactDays.from_interactions(interactions)

    assert contacts.frame["day"].tolist() == interactions["day"].tolist()
    assert np.shares_memory(contacts.frame["day"].to_numpy(), interactions["day"].to_numpy())
    assert contacts.per_customer["contact_days"].tolist() == [3, 1]
