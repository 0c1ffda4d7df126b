"""The profile card's optional parts: the churn badge, and a long list of follow-ups."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.blocks.profile import MAX_CARD_FOLLOW_UPS, render_profile_card
from crm_core.customers.profile import ChurnRisk, ProfileView, PurchaseSummary
from crm_core.customers.views import CustomerView
from crm_core.follow_ups.service import FollowUpView
from tests.bot.harness import texts

TODAY = dt.date(2026, 3, 4)
ACME = CustomerView(1, "cus_1", "Acme", None, None, None, None, "customer", (), {}, dt.datetime(2026, 1, 1))
PROFILE = ProfileView(ACME, (), (), PurchaseSummary(0, (), None))


def card_text(profile: ProfileView, language: str = "en") -> str:
    return "\n".join(texts(render_profile_card(profile, language=language, today=TODAY)))


def test_the_churn_badge_shows_risk_and_its_reason_but_not_when_all_is_well() -> None:
    at_risk = dataclasses.replace(
        PROFILE, churn_risk=ChurnRisk("at_risk", "usually buys every ~21 days; 64 days since")
    )
    assert "*At risk of churning*: usually buys every ~21 days; 64 days since" in card_text(at_risk)
    assert "*離反*: gone" in card_text(
        dataclasses.replace(PROFILE, churn_risk=ChurnRisk("churned", "gone")), "ja"
    )
    assert "churn" not in card_text(dataclasses.replace(PROFILE, churn_risk=ChurnRisk("ok", ""))).lower()


def test_a_long_list_of_follow_ups_is_cut_and_says_how_many_more() -> None:
    follow_ups = tuple(
        FollowUpView(n, 1, "Acme", "cus_1", "U0SALES", TODAY, f"note {n}", "open", "manual")
        for n in range(25)
    )
    text = card_text(dataclasses.replace(PROFILE, open_follow_ups=follow_ups))
    assert f"note {MAX_CARD_FOLLOW_UPS - 1}" in text and f"note {MAX_CARD_FOLLOW_UPS}" not in text
    assert f"…and {25 - MAX_CARD_FOLLOW_UPS} more: `/crm mine` lists yours." in text
