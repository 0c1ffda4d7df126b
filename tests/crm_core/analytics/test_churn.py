import datetime as dt
from functools import cache

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.churn import (
    AT_RISK_CHANCE,
    CHURN_COLUMNS,
    CHURNED_CHANCE,
    churn_levels,
    churn_risk,
    reactivated,
)
from crm_core.analytics.history import ContactDays
from crm_core.analytics.reasons import churn_reasons
from crm_core.analytics.returning import fit_return_model
from tests.crm_core.analytics.analytics_frames import (
    CDNOW_CALIBRATION_END,
    cdnow_purchases,
    contact_days,
    customers,
    purchase_days,
)

TODAY = dt.date(2024, 6, 30)
MONTH_AGO = dt.date(2024, 5, 31)

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
    return churn_risk(customers=CUSTOMERS, purchases=PURCHASES, contacts=CONTACTS, returns=None, today=TODAY)


@pytest.mark.parametrize(
    ("customer", "risk", "reason"),
    [
        (1, "at_risk", [("churn.reason.own_purchase_rhythm", {"gap": 21, "since": 64})]),
        (2, "ok", []),
        (3, "at_risk", [("churn.reason.typical_purchase_rhythm", {"gap": 31, "since": 121})]),
        (4, "at_risk", [("churn.reason.own_contact_rhythm", {"gap": 14, "since": 62})]),
        (5, "at_risk", [("churn.reason.team_contact_rhythm", {"gap": 30, "since": 71})]),
        (6, "ok", []),
        (7, "churned", [("churn.reason.own_purchase_rhythm", {"gap": 31, "since": 880})]),
        (8, "ok", []),
        (9, "at_risk", [("churn.reason.own_purchase_rhythm", {"gap": 31, "since": 880})]),
    ],
)
def test_risk_and_reason_follow_each_customers_rhythm(
    customer: int, risk: str, reason: list[tuple[str, dict[str, int]]]
) -> None:
    row = _rhythm_only().loc[customer]
    parts = churn_reasons(row.to_dict()).with_purchases

    assert row["churn_risk"] == risk
    assert [(part.key, part.values) for part in parts] == reason


def test_without_a_model_or_purchases_there_is_no_chance_of_return() -> None:
    assert _rhythm_only()["p_return_90d"].isna().all()
    assert tuple(_rhythm_only().columns) == CHURN_COLUMNS


def test_last_activity_is_the_later_of_last_order_and_last_contact() -> None:
    last = _rhythm_only()["last_activity_on"]

    assert last.loc[[1, 4, 9]].tolist() == [
        pd.Timestamp(day) for day in ("2024-04-27", "2024-04-29", "2024-06-01")
    ]
    assert pd.isna(last.loc[6])


def _cdnow_risk(today: dt.date = CDNOW_CALIBRATION_END) -> pd.DataFrame:
    days = cdnow_purchases()
    model = fit_return_model(days, today)
    everyone = customers(*range(1, 2358))
    return churn_risk(customers=everyone, purchases=days, contacts=contact_days(), returns=model, today=today)


def test_with_a_model_levels_are_thresholds_on_the_chance_of_return_once_overdue() -> None:
    risk = _cdnow_risk()
    chance, level = risk["p_return_90d"], risk["churn_risk"]

    assert chance.between(0, 1).all()
    assert (level[chance >= AT_RISK_CHANCE] == "ok").all()
    assert (level[chance < CHURNED_CHANCE] != "at_risk").all()
    assert set(level[(chance >= CHURNED_CHANCE) & (chance < AT_RISK_CHANCE)]) <= {"ok", "at_risk"}
    # The at-risk list is a list one can work through, not most of the customers.
    assert (level == "at_risk").mean() < 0.25


def test_a_buyer_is_not_flagged_before_their_usual_gap_has_passed() -> None:
    days = cdnow_purchases()
    model = fit_return_model(days, CDNOW_CALIBRATION_END)
    assert model is not None
    newcomer = purchase_days((1, "1997-09-29", 10.0))
    risk = churn_risk(
        customers=customers(1),
        purchases=newcomer,
        contacts=contact_days(),
        returns=model,
        today=CDNOW_CALIBRATION_END,
    )

    assert risk.loc[1, "p_return_90d"] < AT_RISK_CHANCE
    assert risk.loc[1, "churn_risk"] == "ok"


def test_the_reason_quotes_the_rhythm_and_the_chance_now_and_a_month_ago() -> None:
    risk = _cdnow_risk()
    flagged = risk[(risk["churn_risk"] == "at_risk") & (risk["reason_key"] == "own_purchase_rhythm")]
    row = flagged.iloc[0]

    parts = churn_reasons(row.to_dict()).with_purchases

    assert [part.key for part in parts] == [
        "churn.reason.own_purchase_rhythm",
        "churn.reason.return_chance_trend",
    ]
    assert parts[0].values == {"gap": round(row["usual_gap_days"]), "since": round(row["days_silent"])}
    assert parts[1].values == {
        "chance": round(100 * row["p_return_90d"]),
        "before": round(100 * row["p_return_month_ago"]),
    }


def test_levels_are_the_risk_without_reasons() -> None:
    days = cdnow_purchases()
    model = fit_return_model(days, CDNOW_CALIBRATION_END)
    everyone = customers(*range(1, 2358))
    common = {"customers": everyone, "purchases": days, "contacts": contact_days(), "returns": model}
    levels = churn_levels(**common, today=CDNOW_CALIBRATION_END)
    full = churn_risk(**common, today=CDNOW_CALIBRATION_END)

    pd.testing.assert_frame_equal(levels, full[list(levels.columns)])


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
        return churn_risk(customers=everyone, purchases=purchases, contacts=contacts, returns=None, today=day)

    before, now = risk_on(MONTH_AGO), risk_on(TODAY)

    assert before["churn_risk"].tolist() == ["at_risk", "at_risk", "ok", "at_risk"]
    back = reactivated(before=before, now=now, since=MONTH_AGO)
    assert back.tolist() == [True, False, False, False]
    assert back.name == "reactivated"


def test_a_customer_with_no_activity_is_not_judged() -> None:
    result = _rhythm_only().loc[6]

    assert (result["churn_risk"], result["reason_key"]) == ("ok", "")
    assert np.isnan(result["p_return_90d"])


def test_a_buyers_chance_and_level_do_not_depend_on_contacts() -> None:
    """What lets `analytics backtest`, which judges buyers only, leave ten million interactions unread."""
    days = cdnow_purchases()
    model = fit_return_model(days, CDNOW_CALIBRATION_END)
    assert model is not None
    ids = days.per_customer.index.to_numpy()
    rng = np.random.default_rng(5)
    chatty = rng.choice(ids, size=len(ids) // 2, replace=False)
    contacts = contact_days(
        *((int(i), f"1997-0{rng.integers(7, 10)}-{rng.integers(10, 29)}") for i in chatty),
        (999_999, "1997-09-01"),  # a contact who never bought is not judged, but is scored
    )
    everyone = customers(*ids, 999_999)

    def buyers(contacts_given: ContactDays) -> pd.DataFrame:
        levels = churn_levels(
            customers=everyone,
            purchases=days,
            contacts=contacts_given,
            returns=model,
            today=CDNOW_CALIBRATION_END,
        )
        return levels.loc[levels["p_return_90d"].notna(), ["p_return_90d", "churn_risk"]]

    with_contacts, without = buyers(contacts), buyers(contact_days())
    assert len(with_contacts) == len(ids)
    pd.testing.assert_frame_equal(with_contacts, without, check_exact=True)
