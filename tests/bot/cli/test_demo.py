"""Sample data: the generator is deterministic and realistic; `crm-bot demo-data` loads it once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from crm_core.demo.generator import HISTORY_DAYS, generate_demo_data
from tests.conftest import CliResult, empty_all_tables

Crm = Callable[..., CliResult]
TODAY = dt.date(2026, 11, 25)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = generate_demo_data(customers=200, seed=3, today=TODAY)
    again = generate_demo_data(customers=200, seed=3, today=TODAY)
    other = generate_demo_data(customers=200, seed=4, today=TODAY)
    for name in ("customers", "purchases", "interactions", "follow_ups"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not first.customers["name"].equals(other.customers["name"])


def test_sample_looks_like_a_japanese_and_english_customer_base() -> None:
    data = generate_demo_data(customers=2_000, seed=1, today=TODAY)
    customers = data.customers
    assert len(customers) == 2_000 and customers["external_id"].is_unique
    assert customers["name"].str.contains("株式会社").any() and customers["name"].str.endswith(" Inc.").any()
    assert customers["name"].str.contains("[ぁ-んァ-ン一-龥]", regex=True).mean() > 0.4
    emails, phones = (
        customers["email"][customers["email"] != ""],
        customers["phone"][customers["phone"] != ""],
    )
    assert emails.is_unique and phones.str.replace(r"\D", "", regex=True).is_unique
    assert set(customers["owner"]) == {"U0SALES1", "U0SALES2", "U0SALES3", "U0SALES4"}


def test_purchases_cover_two_years_with_repeat_buyers_and_dropouts() -> None:
    data = generate_demo_data(customers=2_000, seed=1, today=TODAY)
    purchases = data.purchases
    start = pd.Timestamp(TODAY - dt.timedelta(days=HISTORY_DAYS))
    assert purchases["occurred_at"].min() >= start and purchases["occurred_at"].max() < pd.Timestamp(TODAY)
    assert purchases["external_id"].is_unique and (purchases["amount"] >= 100).all()
    per_customer = purchases.groupby("customer", observed=True).size()
    assert 0.8 < len(per_customer) / 2_000 < 0.95  # about 12% never bought
    assert (per_customer >= 5).mean() > 0.1
    last = purchases.groupby("customer", observed=True)["occurred_at"].max()
    lapsed = last < pd.Timestamp(TODAY - dt.timedelta(days=180))
    assert 0.1 < lapsed.mean() < 0.9  # some stopped buying long ago, others are active


def test_interactions_and_follow_ups() -> None:
    data = generate_demo_data(customers=500, seed=1, today=TODAY)
    assert set(data.interactions["kind"]) == {"call", "meeting", "email", "support", "note"}
    assert data.interactions["summary"].str.contains("見積").any()
    assert data.interactions["summary"].str.contains("quote").any()
    due = data.follow_ups["due_on"].dt.date
    assert (due < TODAY).any() and (due >= TODAY).any()


def test_demo_data_loads_once_and_the_same_seed_gives_the_same_store(crm: Crm, engine: Engine) -> None:
    first = crm("demo-data", "--customers", "60", "--seed", "5")
    assert first.exit_code == 0
    assert first.stdout.startswith("added 60 customers, ")
    exports = [crm("export", entity, "-").stdout for entity in ("customers", "purchases", "interactions")]

    refused = crm("demo-data")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "crm-bot: the store already has 60 customers; demo data is meant for an empty store "
        "(add --force to add it anyway)\n"
    )
    again = crm("demo-data", "--customers", "60", "--seed", "5", "--force")
    assert (again.exit_code, again.stdout) == (
        0,
        "added 0 customers, 0 purchases, 0 interactions and 0 open follow-ups (seed 5)\n",
    )

    empty_all_tables(engine)
    assert crm("demo-data", "--customers", "60", "--seed", "5").exit_code == 0
    assert [
        crm("export", entity, "-").stdout for entity in ("customers", "purchases", "interactions")
    ] == exports
    with engine.connect() as connection:
        open_follow_ups = connection.execute(text("select count(*) from follow_ups where status = 'open'"))
        assert open_follow_ups.scalar_one() > 0


@pytest.mark.parametrize("customers", ["0", "100001"])
def test_demo_data_size_is_bounded(crm: Crm, customers: str) -> None:
    assert crm("demo-data", "--customers", customers).exit_code == 2
