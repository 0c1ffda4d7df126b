"""The profile card's optional parts: the churn badge, and a long list of follow-ups."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from bot.blocks.profile import MAX_CARD_FOLLOW_UPS, render_profile_card
from crm_core.analytics.reasons import ReasonPart
from crm_core.customer_view import CustomerView
from crm_core.follow_ups.service import FollowUpView
from crm_core.read_models.profile import ChurnRisk, ProfileView, PurchaseSummary
from tests.bot.harness import texts

TODAY = dt.date(2026, 3, 4)
ACME = CustomerView(1, "cus_1", "Acme", None, None, None, None, "customer", (), {}, dt.datetime(2026, 1, 1))
PROFILE = ProfileView(ACME, (), (), PurchaseSummary(0, (), None))


def card_text(profile: ProfileView, language: str = "en") -> str:
    return "\n".join(texts(render_profile_card(profile, language=language, today=TODAY)))


RHYTHM = ReasonPart("churn.reason.own_purchase_rhythm", (("gap", 21), ("since", 64)))
CHANCE = ReasonPart("churn.reason.return_chance_trend", (("chance", 12), ("before", 35)))


def test_the_churn_badge_shows_risk_and_its_reason_but_not_when_all_is_well() -> None:
    at_risk = dataclasses.replace(PROFILE, churn_risk=ChurnRisk("at_risk", (RHYTHM, CHANCE)))
    assert (
        "*At risk of churning*: usually buys every ~21 days; 64 days since the last order; "
        "12% chance of another order within 90 days (a month ago 35%)"
    ) in card_text(at_risk)
    assert "churn" not in card_text(dataclasses.replace(PROFILE, churn_risk=ChurnRisk("ok", ()))).lower()


def test_the_churn_reason_is_in_the_readers_language() -> None:
    churned = dataclasses.replace(PROFILE, churn_risk=ChurnRisk("churned", (RHYTHM, CHANCE)))

    text = card_text(churned, "ja")

    assert (
        "*離反*: 通常は約21日ごとに購入、最後の注文から64日；90日以内の再購入の見込み12%（1か月前は35%）"
        in text
    )
    assert not re.search(r"[A-Za-z]{3,}", text.split("*離反*:")[1].split("\n")[0])


def test_a_long_list_of_follow_ups_is_cut_and_says_how_many_more() -> None:
    follow_ups = tuple(
        FollowUpView(n, 1, "Acme", "cus_1", "U0SALES", TODAY, f"note {n}", "open", "manual")
        for n in range(25)
    )
    text = card_text(dataclasses.replace(PROFILE, open_follow_ups=follow_ups))
    assert f"note {MAX_CARD_FOLLOW_UPS - 1}" in text and f"note {MAX_CARD_FOLLOW_UPS}" not in text
    assert f"…and {25 - MAX_CARD_FOLLOW_UPS} more: `/crm mine` lists yours." in text
