import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.frames import FrameContractError
from crm_core.analytics.next_step import NEXT_STEP_RULES, NextStepRule, next_steps


def _customer(**overrides: object) -> dict[str, object]:
    """An unremarkable customer: bought twice long ago, fine, not a VIP, not a Champion."""
    return {
        "vip": False,
        "churn_risk": "ok",
        "frequency": 2.0,
        "days_since_first_purchase": 200.0,
        "segment": "Loyal",
    } | overrides


def _steps(*rows: dict[str, object]) -> list[str]:
    return next_steps(pd.DataFrame(list(rows)))["next_step"].tolist()


def test_each_rule_gives_its_step() -> None:
    assert _steps(
        _customer(vip=True, churn_risk="at_risk"),
        _customer(churn_risk="churned", frequency=3.0),
        _customer(frequency=1.0, days_since_first_purchase=2.0),
        _customer(churn_risk="at_risk"),
        _customer(segment="Champions"),
        _customer(),
    ) == [
        "Personal call by the owner",
        "Send the win-back offer",
        "Thank-you follow-up in 3 days",
        "Check in",
        "Ask for a referral",
        "",
    ]


def test_the_first_rule_that_applies_wins() -> None:
    assert _steps(
        _customer(vip=True, churn_risk="churned", frequency=5.0, segment="Champions"),
        _customer(churn_risk="at_risk", segment="Champions"),
    ) == ["Personal call by the owner", "Check in"]


def test_a_churned_one_time_buyer_gets_no_win_back_offer() -> None:
    assert _steps(_customer(churn_risk="churned", frequency=1.0)) == [""]


def test_the_thank_you_window_is_today_and_the_two_days_before() -> None:
    assert _steps(
        _customer(frequency=1.0, days_since_first_purchase=0.0),
        _customer(frequency=1.0, days_since_first_purchase=3.0),
    ) == ["Thank-you follow-up in 3 days", ""]


def test_customers_who_never_bought_match_no_purchase_rule() -> None:
    never_bought = _customer(frequency=np.nan, days_since_first_purchase=np.nan, segment=np.nan)

    assert _steps(never_bought, never_bought | {"churn_risk": "at_risk"}) == ["", "Check in"]


def test_keys_name_the_messages_for_the_bot_catalogues() -> None:
    keys = next_steps(pd.DataFrame([_customer(churn_risk="at_risk"), _customer()]))["next_step_key"]

    assert keys.tolist() == ["check_in", ""]
    assert len({rule.key for rule in NEXT_STEP_RULES}) == len(NEXT_STEP_RULES)


def test_a_custom_table_replaces_the_default() -> None:
    always = NextStepRule("note", "Write a note", lambda customers: customers["vip"] | ~customers["vip"])

    assert next_steps(pd.DataFrame([_customer()]), rules=(always,))["next_step"].tolist() == ["Write a note"]


def test_missing_input_columns_are_named() -> None:
    with pytest.raises(FrameContractError, match="days_since_first_purchase"):
        next_steps(pd.DataFrame([_customer()]).drop(columns="days_since_first_purchase"))
