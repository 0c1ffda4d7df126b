import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.frames import FrameContractError
from crm_core.analytics.kpis import KPI_COLUMNS, period_kpis, summed_by, team_and_owner_kpis
from tests.crm_core.analytics.analytics_frames import contact_days, customers, purchase_days

JUNE = (dt.date(2024, 6, 1), dt.date(2024, 7, 1))
CUSTOMERS = customers(1, 2, 3, 4, 5, owner_id=["U1", "U1", "U2", "U2", None])
PURCHASES = purchase_days(
    (1, "2024-05-10", 10.0),
    (1, "2024-06-10", 10.0),  # 1: bought before and again: a repeat buyer, retained
    (2, "2024-06-15", 10.0),  # 2: first purchase in June
    (3, "2024-05-20", 10.0),  # 3: bought in May only
    (5, "2024-06-20 09:00", 10.0),
    (5, "2024-06-20 16:00", 10.0),  # 5: two orders one day: one purchase
    (5, "2024-07-02", 10.0),  # after the period
)
CONTACTS = contact_days((4, "2024-05-15"), (4, "2024-06-05"))  # 4: support only, both months
CHURN = pd.DataFrame(
    {
        "churn_risk": ["ok", "ok", "at_risk", "churned", "ok"],
        "reactivated": [True, False, False, False, False],
    },
    index=pd.Index([1, 2, 3, 4, 5], name="customer_id"),
)
FOLLOW_UPS = pd.DataFrame(
    {
        "owner_id": ["U1", "U1", "U1", "U2", "U2", "U2"],
        "due_on": [dt.date(2024, 6, day) for day in (10, 12, 20, 5, 25)] + [dt.date(2024, 7, 1)],
        "status": ["done", "done", "open", "cancelled", "done", "open"],
        "done_at": pd.to_datetime(
            ["2024-06-10 23:00", "2024-06-13 08:00", None, None, "2024-06-24 10:00", None]
        ),
    }
)


def _kpis(by_owner: bool = False, follow_ups: pd.DataFrame = FOLLOW_UPS) -> pd.DataFrame:
    return period_kpis(
        customers=CUSTOMERS,
        purchases=PURCHASES,
        contacts=CONTACTS,
        churn=CHURN,
        follow_ups=follow_ups,
        start=JUNE[0],
        end=JUNE[1],
        by_owner=by_owner,
    )


def test_team_kpis_for_the_period() -> None:
    row = _kpis().loc["all"]

    assert tuple(row.index) == KPI_COLUMNS
    assert row[["active", "buyers", "at_risk", "churned", "reactivated"]].tolist() == [4, 3, 1, 1, 1]
    assert row["repeat_purchase_rate"] == pytest.approx(1 / 3)
    assert row["retention_rate"] == pytest.approx(2 / 3)


def test_follow_ups_done_on_the_due_day_are_on_time_and_cancelled_ones_do_not_count() -> None:
    row = _kpis().loc["all"]

    assert row[["follow_ups_due", "follow_ups_on_time"]].tolist() == [4, 2]
    assert row["follow_ups_on_time_rate"] == 0.5


def test_kpis_by_owner_split_customers_and_follow_ups() -> None:
    table = _kpis(by_owner=True)

    assert len(table) == 3  # U1, U2 and the customer nobody owns
    u1, u2 = table.loc["U1"].to_dict(), table.loc["U2"].to_dict()
    assert (u1["repeat_purchase_rate"], u1["retention_rate"]) == (0.5, 1.0)
    assert {name: u1[name] for name in ("active", "buyers", "reactivated")} == {
        "active": 2,
        "buyers": 2,
        "reactivated": 1,
    }
    assert (u1["follow_ups_due"], u1["follow_ups_on_time"]) == (3, 1)
    assert {name: u2[name] for name in ("active", "buyers", "at_risk", "churned")} == {
        "active": 1,
        "buyers": 0,
        "at_risk": 1,
        "churned": 1,
    }
    assert (u2["follow_ups_due"], u2["follow_ups_on_time"]) == (1, 1)
    assert u2["retention_rate"] == 0.5


def test_rates_without_anyone_to_measure_are_unknown_not_zero() -> None:
    no_follow_ups = FOLLOW_UPS.iloc[:0]

    u2 = _kpis(by_owner=True).loc["U2"]
    team = _kpis(follow_ups=no_follow_ups).loc["all"]

    assert np.isnan(u2["repeat_purchase_rate"])
    assert team["follow_ups_due"] == 0
    assert np.isnan(team["follow_ups_on_time_rate"])


def test_a_period_that_does_not_move_forward_is_refused() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        period_kpis(
            customers=CUSTOMERS,
            purchases=PURCHASES,
            contacts=CONTACTS,
            churn=CHURN,
            follow_ups=FOLLOW_UPS,
            start=JUNE[1],
            end=JUNE[0],
        )


def test_kpis_by_owner_need_an_owner_column() -> None:
    with pytest.raises(FrameContractError, match="owner_id"):
        period_kpis(
            customers=customers(1, 2),
            purchases=PURCHASES,
            contacts=CONTACTS,
            churn=CHURN,
            follow_ups=FOLLOW_UPS,
            start=JUNE[0],
            end=JUNE[1],
            by_owner=True,
        )


def test_team_and_owner_kpis_at_once_are_those_asked_apart_and_the_team_sums_the_owners() -> None:
    # A follow-up of an owner with no customer, and a cut history (what was known at the end of June).
    follow_ups = pd.concat(
        [FOLLOW_UPS, FOLLOW_UPS.iloc[[0]].assign(owner_id="U9", due_on=dt.date(2024, 6, 11))],
        ignore_index=True,
    )
    purchases = PURCHASES.until(dt.date(2024, 6, 30))
    asked = {
        "customers": CUSTOMERS,
        "purchases": purchases,
        "contacts": CONTACTS,
        "churn": CHURN,
        "follow_ups": follow_ups,
        "start": JUNE[0],
        "end": JUNE[1],
    }

    team, by_owner = team_and_owner_kpis(**asked)

    pd.testing.assert_frame_equal(team, period_kpis(**asked), check_exact=True)
    pd.testing.assert_frame_equal(by_owner, period_kpis(**asked, by_owner=True), check_exact=True)
    counts = [c for c in KPI_COLUMNS if not c.endswith("_rate")]
    assert by_owner[counts].sum().tolist() == team.loc["all", counts].tolist()
    assert by_owner.loc["U9", "follow_ups_due"] == 1 and team.loc["all", "buyers"] == 3


@pytest.mark.parametrize("dtype", ["str", "object", "category", "float64"])  # the last: no owner at all
@pytest.mark.parametrize("size", [2000, 0])
def test_counts_by_owner_are_a_groupby_sum_with_missing_owners_last(dtype: str, size: int) -> None:
    rng = np.random.default_rng(5)
    picks = np.array(["U2", "U1", None, "U10"], dtype=object) if dtype != "float64" else np.array([np.nan])
    owners = pd.Series(rng.choice(picks, size=size), dtype=dtype, name="owner_id")
    flags = pd.DataFrame({"active": rng.random(size) < 0.3, "churned": rng.random(size) < 0.6})

    expected = flags.groupby(owners, dropna=False).sum()
    pd.testing.assert_frame_equal(summed_by(flags, owners), expected, check_exact=True)
