import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.history import MEDIAN_ROWS, ContactDays, PurchaseDays, day_number
from tests.crm_core.analytics.analytics_frames import contact_days, purchase_days, purchases


def test_purchases_become_one_row_per_customer_and_day() -> None:
    days = purchase_days(
        (2, "2024-06-02 10:00", 30.0),
        (1, "2024-06-03 23:59", 5.0),
        (2, "2024-06-02 18:00", -10.0),
        (1, "2024-06-01 00:00", 20.0),
        (1, "2024-06-05 12:00", -20.0),
    )

    assert days.frame.to_dict("records") == [
        {
            "customer_id": 1,
            "day": day_number(dt.date(2024, 6, 1)),
            "spend": 20.0,
            "net": 20.0,
            "purchased": True,
        },
        {
            "customer_id": 1,
            "day": day_number(dt.date(2024, 6, 3)),
            "spend": 5.0,
            "net": 5.0,
            "purchased": True,
        },
        {
            "customer_id": 1,
            "day": day_number(dt.date(2024, 6, 5)),
            "spend": 0.0,
            "net": -20.0,
            "purchased": False,
        },
        {
            "customer_id": 2,
            "day": day_number(dt.date(2024, 6, 2)),
            "spend": 30.0,
            "net": 20.0,
            "purchased": True,
        },
    ]


def test_customer_ids_too_wide_for_one_sort_key_still_sort_by_customer_then_day() -> None:
    huge = 2**62
    rows = [
        (huge, "2024-06-02", 1.0),
        (1, "2024-06-03", 2.0),
        (huge, "2024-06-01", 3.0),
        (1, "2024-06-01", 4.0),
    ]

    frame = PurchaseDays.from_purchases(purchases(*rows)).frame

    assert frame["customer_id"].tolist() == [1, 1, huge, huge]
    assert frame["net"].tolist() == [4.0, 2.0, 3.0, 1.0]


def test_int32_ids_and_days_whose_combined_sort_key_exceeds_int32_sort_by_customer_then_day() -> None:
    # Ids to a million and days across 80 years fit int32 apiece; id × span does not.
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(
        {
            "customer_id": rng.integers(1, 1_000_000, size=5000),
            "day": rng.integers(-10_000, 20_000, size=5000),
        }
    )
    contacts = ContactDays.from_interactions(rows)

    assert contacts.frame["customer_id"].dtype == "int32"
    expected = rows.drop_duplicates().sort_values(["customer_id", "day"], ignore_index=True)
    assert contacts.frame["customer_id"].tolist() == expected["customer_id"].tolist()
    assert contacts.frame["day"].tolist() == expected["day"].tolist()


def test_per_customer_summary_and_median_gaps() -> None:
    days = purchase_days(
        (1, "2024-01-01", 10.0),
        (1, "2024-01-11", 10.0),
        (1, "2024-01-13", -10.0),  # refund-only day: not a purchase day, but it lowers revenue
        (1, "2024-03-01", 10.0),
        (1, "2024-03-05", 10.0),
        (2, "2024-02-01", 10.0),
    )

    summary = days.per_customer

    assert summary.loc[1, "purchase_days"] == 4 and days.net_revenue.loc[1] == 30.0
    assert summary.loc[1, "last_day"] - summary.loc[1, "first_day"] == 64
    assert days.median_gap_days.to_dict() == {1: 10.0}  # gaps 10, 50, 4: the refund day is no purchase


def test_cutting_at_a_day_keeps_that_whole_day() -> None:
    days = purchase_days((1, "2024-06-30 23:59", 10.0), (1, "2024-07-01 00:00", 10.0))

    assert len(days.until(dt.date(2024, 6, 30)).frame) == 1
    assert len(days.until(pd.Timestamp("2024-06-30 08:00")).frame) == 1


def test_contacts_are_distinct_days() -> None:
    contacts = contact_days((1, "2024-06-01 09:00"), (1, "2024-06-01 17:00"), (1, "2024-06-08"))

    assert contacts.per_customer.loc[1, "contact_days"] == 2
    assert contacts.median_gap_days.to_dict() == {1: 7.0}


def _random_rows(seed: int, customers: int = 60, rows: int = 600) -> pd.DataFrame:
    """Purchases (some refunds) of many customers over a year, in no particular order."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(1, customers, size=rows),
            "day": rng.integers(
                day_number(dt.date(2024, 1, 1)), day_number(dt.date(2024, 12, 31)), size=rows
            ),
            "amount": rng.choice([-5.0, 10.0, 20.0, 35.5], size=rows),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cut_history_summarises_like_the_rows_up_to_that_day(seed: int) -> None:
    rows = _random_rows(seed)
    purchases, contacts = PurchaseDays.from_purchases(rows), ContactDays.from_interactions(rows)

    for cut in (dt.date(2024, 3, 1), dt.date(2024, 11, 20), dt.date(2024, 12, 24)):
        known = rows[rows["day"] <= day_number(cut)]
        bought, contacted = PurchaseDays.from_purchases(known), ContactDays.from_interactions(known)
        for history, alone in ((purchases.until(cut), bought), (contacts.until(cut), contacted)):
            pd.testing.assert_frame_equal(history.per_customer, alone.per_customer)
            if isinstance(history, PurchaseDays) and isinstance(alone, PurchaseDays):
                pd.testing.assert_series_equal(history.net_revenue, alone.net_revenue)
            pd.testing.assert_series_equal(history.median_gap_days, alone.median_gap_days)
            pd.testing.assert_frame_equal(history.frame.reset_index(drop=True), alone.frame)


def test_a_days_amounts_are_summed_in_the_order_they_were_read() -> None:
    """Equal (customer, day) keys keep their order through the sort, whatever the CPU: a float sum
    depends on it. Here 1e16 absorbs ones that -1e16 then cancels, so another order sums another
    number of ones."""
    day = day_number(dt.date(2024, 6, 1))
    amounts = np.array([1e16, *[1.0] * 500, -1e16, *[1.0] * 500])
    rows = pd.DataFrame(
        {
            "customer_id": [2] * len(amounts) + [1],  # one earlier customer last: the rows need sorting
            "day": [day] * (len(amounts) + 1),
            "amount": [*amounts, 5.0],
        }
    )

    net = PurchaseDays.from_purchases(rows).frame.set_index("customer_id")["net"]

    def summed(day_rows: np.ndarray) -> float:  # as the day's rows are summed once sorted
        return float(np.add.reduceat(np.concatenate([[5.0], day_rows]), [0, 1])[1])

    assert summed(amounts) != summed(amounts[::-1])  # the order shows in the sum
    assert net.to_dict() == {1: 5.0, 2: summed(amounts)}


def test_a_cut_that_drops_a_few_days_and_whole_customers() -> None:
    """Few rows after the cut, as a week back has: they are counted per customer, and a customer
    whose first day is after the cut is left out, not charged to the customer before."""
    rows = [(3, f"2024-05-{day:02d}") for day in range(1, 21)]
    rows += [(1, f"2024-05-{day:02d}") for day in range(1, 6)] + [(1, "2024-06-10")]
    rows += [(2, "2024-06-12")]
    contacts = contact_days(*rows)

    cut = contacts.until(dt.date(2024, 6, 1))

    pd.testing.assert_frame_equal(cut.per_customer, contact_days(*rows[:25]).per_customer)
    assert cut.per_customer["contact_days"].to_dict() == {1: 5, 3: 20}


def test_cutting_a_cut_history() -> None:
    contacts = contact_days((1, "2024-06-01"), (1, "2024-06-05"), (1, "2024-06-09"))
    june_7 = contacts.until(dt.date(2024, 6, 7))

    assert june_7.until(dt.date(2024, 6, 8)) is june_7  # nothing later is known to it
    assert june_7.until(dt.date(2024, 6, 2)).per_customer.loc[1, "contact_days"] == 1
    assert june_7.per_customer.loc[1, "contact_days"] == 2


def _groupby_medians(frame: pd.DataFrame) -> pd.Series:
    """Each customer's median gap between consecutive days, the obvious way (indexed by int64 ids,
    as every per-customer result is, whatever the rows hold)."""
    gaps = frame.groupby("customer_id")["day"].diff().dropna()
    medians = gaps.groupby(frame.loc[gaps.index, "customer_id"]).median().rename(None)
    return medians.set_axis(medians.index.astype("int64"))


# Sorted by a 32-bit key (365, 10**6), a 64-bit one (10**8), and by two keys (2**40: too wide for one).
@pytest.mark.parametrize("spread", [365, 10**6, 10**8, 2**40])
@pytest.mark.parametrize("run_rows", [MEDIAN_ROWS, 7, 1])  # in runs that never split a customer
def test_median_gaps_are_the_median_of_each_customers_gaps(
    spread: int, run_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_core.analytics.history.MEDIAN_ROWS", run_rows)
    rng = np.random.default_rng(spread % 1000)
    rows = pd.DataFrame(
        {
            "customer_id": rng.integers(1, 200, size=3000),
            "day": rng.integers(-spread // 2, spread // 2, size=3000),  # days before 1970 too
        }
    )
    contacts = ContactDays.from_interactions(rows)

    expected = _groupby_medians(contacts.frame)
    assert (expected != expected.round()).any()  # some even counts: the mean of the middle two
    pd.testing.assert_series_equal(contacts.median_gap_days, expected, check_exact=True)


def test_median_gaps_with_a_32_bit_sort_key_at_its_limit() -> None:
    # Two customers whose gaps span 2**31 - 1 days: every (customer, gap) key just fits 32 bits.
    widest = 2**31 - 1
    rows = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 2, 2],
            "day": [0, 1, 1 + widest, 0, widest, widest + 3, 2 * widest],
        }
    )
    contacts = ContactDays.from_interactions(rows)

    pd.testing.assert_series_equal(
        contacts.median_gap_days, _groupby_medians(contacts.frame), check_exact=True
    )
    assert contacts.median_gap_days.to_dict() == {1: (1 + widest) / 2, 2: float(widest - 3)}


def test_cuts_at_one_day_are_summarised_once_and_given_back_on_request() -> None:
    purchases = purchase_days((1, "2024-06-01", 10.0), (1, "2024-06-05", 10.0), (1, "2024-06-09", 10.0))

    june_7 = purchases.until(dt.date(2024, 6, 7))
    assert purchases.until(pd.Timestamp("2024-06-07 18:00")) is june_7
    assert purchases.until(dt.date(2024, 6, 8)).per_customer.loc[1, "purchase_days"] == 2
    purchases.forget_cuts()
    assert purchases.until(dt.date(2024, 6, 7)) is not june_7
