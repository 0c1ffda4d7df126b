import datetime as dt
from functools import cache

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.bgnbd import BgNbdFit, BgNbdParams, p_alive
from crm_core.analytics.churn import CHURN_COLUMNS, churn_levels, churn_risk, reactivated
from tests.analytics.analytics_frames import contact_days, customers, purchase_days

TODAY = dt.date(2024, 6, 30)
MONTH_AGO = dt.date(2024, 5, 31)
# CDNOW's parameters with α in days.
BGNBD = BgNbdFit(BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426), "days", 2357, 0.0, True)

PURCHASES = purchase_days(
    # 1: every ~21 days (gaps 21, 21, 15), silent since 27 April.
    (1, "2024-03-01", 10.0),
    (1, "2024-03-22", 10.0),
    (1, "2024-04-12", 10.0),
    (1, "2024-04-27", 10.0),
    # 2: one recent order; 3: one old order.
    (2, "2024-06-01", 10.0),
    (3, "2024-03-01", 10.0),
    # 7: a monthly buyer gone for two years.
    (7, "2022-01-01", 10.0),
    (7, "2022-02-01", 10.0),
    # 8: reorders yearly; the last anniversary passed a month ago.
    (8, "2021-06-01", 10.0),
    (8, "2022-06-01", 10.0),
    (8, "2023-06-01", 10.0),
    # 9: gone as a buyer, but support spoke to them a month ago.
    (9, "2022-01-01", 10.0),
    (9, "2022-02-01", 10.0),
)
CONTACTS = contact_days(
    # 4: in touch every 14 days; 5: a single contact.
    (4, "2024-04-01"),
    (4, "2024-04-15"),
    (4, "2024-04-29"),
    (5, "2024-04-20"),
    (9, "2024-06-01"),
)
CUSTOMERS = customers(*range(1, 10))


@cache
def _rhythm_only() -> pd.DataFrame:
    return churn_risk(customers=CUSTOMERS, purchases=PURCHASES, contacts=CONTACTS, bgnbd=None, today=TODAY)


@pytest.mark.parametrize(
    ("customer", "risk", "reason"),
    [
        (1, "at_risk", "usually buys every ~21 days; 64 days since the last order"),
        (2, "ok", ""),
        (3, "at_risk", "bought once; customers usually reorder within ~31 days; 121 days since the order"),
        (4, "at_risk", "usually in touch every ~14 days; 62 days since the last contact"),
        (5, "at_risk", "the team's usual contact rhythm is ~30 days; 71 days since the last contact"),
        (6, "ok", ""),
        (7, "churned", "usually buys every ~31 days; 880 days since the last order"),
        (8, "ok", ""),
        (9, "at_risk", "usually buys every ~31 days; 880 days since the last order"),
    ],
)
def test_risk_and_reason_follow_each_customers_rhythm(customer: int, risk: str, reason: str) -> None:
    assert _rhythm_only().loc[customer, ["churn_risk", "reason"]].tolist() == [risk, reason]


def test_without_a_model_or_purchases_there_is_no_p_alive() -> None:
    with_model = churn_risk(
        customers=CUSTOMERS, purchases=PURCHASES, contacts=CONTACTS, bgnbd=BGNBD, today=TODAY
    )

    assert _rhythm_only()["p_alive"].isna().all()
    assert with_model.loc[[4, 5, 6], "p_alive"].isna().all()
    assert with_model.loc[[2, 3], "p_alive"].tolist() == [1.0, 1.0]
    assert tuple(with_model.columns) == CHURN_COLUMNS


def test_last_activity_is_the_later_of_last_order_and_last_contact() -> None:
    last = _rhythm_only()["last_activity_on"]

    assert last.loc[[1, 4, 9]].tolist() == [
        pd.Timestamp(day) for day in ("2024-04-27", "2024-04-29", "2024-06-01")
    ]
    assert pd.isna(last.loc[6])


def test_a_low_p_alive_churns_a_repeat_buyer_and_shows_its_trend() -> None:
    weekly = purchase_days(
        *((1, f"2024-01-{day:02d}", 10.0) for day in (1, 8, 15, 22, 29)), (1, "2024-02-05", 10.0)
    )

    result = churn_risk(
        customers=customers(1), purchases=weekly, contacts=contact_days(), bgnbd=BGNBD, today=TODAY
    )

    now, before = p_alive(BGNBD.params, [5, 5], [35, 35], [181, 151])
    assert now < 0.1
    assert result.loc[1, "churn_risk"] == "churned"
    assert result.loc[1, "p_alive"] == pytest.approx(now)
    assert result.loc[1, "reason"] == (
        "usually buys every ~7 days; 146 days since the last order; "
        f"P(alive) {now:.2f}, was {before:.2f} a month ago"
    )


def test_p_alive_has_no_trend_for_a_customer_who_had_not_bought_a_month_ago() -> None:
    daily = purchase_days(*((1, f"2024-06-{day:02d}", 10.0) for day in range(1, 11)))

    result = churn_risk(
        customers=customers(1), purchases=daily, contacts=contact_days(), bgnbd=BGNBD, today=TODAY
    )

    now = p_alive(BGNBD.params, [9], [9], [29])[0]
    assert (
        result.loc[1, "reason"]
        == f"usually buys every ~1 days; 20 days since the last order; P(alive) {now:.2f}"
    )


def test_levels_are_the_risk_without_reasons() -> None:
    levels = churn_levels(
        customers=CUSTOMERS, purchases=PURCHASES, contacts=CONTACTS, bgnbd=BGNBD, today=TODAY
    )
    full = churn_risk(customers=CUSTOMERS, purchases=PURCHASES, contacts=CONTACTS, bgnbd=BGNBD, today=TODAY)

    pd.testing.assert_frame_equal(levels, full.drop(columns="reason"))


def test_reactivated_customers_were_flagged_came_back_and_are_ok_now() -> None:
    every_ten_days = [
        (customer, day, 10.0) for customer in (1, 2, 4) for day in ("2024-04-01", "2024-04-11", "2024-04-21")
    ]
    purchases = purchase_days(
        *every_ten_days,
        (1, "2024-06-25", 10.0),  # 1 comes back
        (3, "2024-05-25", 10.0),
        (3, "2024-06-20", 10.0),  # 3 was never at risk
        (3, "2024-06-25", 10.0),
    )
    contacts = contact_days((4, "2024-06-20"))  # 4 was called, but has not ordered again
    everyone = customers(1, 2, 3, 4)

    def risk_on(day: dt.date) -> pd.DataFrame:
        return churn_risk(customers=everyone, purchases=purchases, contacts=contacts, bgnbd=None, today=day)

    before, now = risk_on(MONTH_AGO), risk_on(TODAY)

    assert before["churn_risk"].tolist() == ["at_risk", "at_risk", "ok", "at_risk"]
    back = reactivated(before=before, now=now, since=MONTH_AGO)
    assert back.tolist() == [True, False, False, False]
    assert back.name == "reactivated"


def test_a_customer_with_no_activity_is_not_judged() -> None:
    result = _rhythm_only().loc[6]

    assert (result["churn_risk"], result["reason"]) == ("ok", "")
    assert np.isnan(result["p_alive"])
