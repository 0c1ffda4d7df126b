"""What the catalogues' templates cannot say alone: English plurals, and one full stop after a name."""

from __future__ import annotations

import pytest

from bot.messages import CATALOGUES, t
from crm_core.interactions.kinds import LOGGABLE_KINDS


def test_a_name_ending_in_a_full_stop_does_not_get_a_second_one() -> None:
    assert t("en", "log.done", kind="Meeting", customer="Acme Ltd.") == (
        ":white_check_mark: Logged: Meeting with *Acme Ltd.*"
    )
    assert t("en", "customer.created", name="Acme Co.") == "Created customer *Acme Co.*"


def test_a_name_without_one_still_ends_the_sentence_and_a_stop_inside_a_sentence_stays() -> None:
    assert t("en", "log.done", kind="Call", customer="Acme") == ":white_check_mark: Logged: Call with *Acme*."
    assert t("en", "follow_up.done", customer="Acme Ltd.", due="2026-03-05") == (
        ":alarm_clock: Follow-up with *Acme Ltd.* set for 2026-03-05."
    )


@pytest.mark.parametrize(("count", "said"), [(1, "1 purchase ·"), (2, "2 purchases ·"), (0, "0 purchases ·")])
def test_english_counts_take_the_singular_for_one(count: int, said: str) -> None:
    assert said in t("en", "profile.purchases", count=count, total="100 USD", last="2026-03-01")


def test_english_churn_reasons_say_one_day() -> None:
    assert t("en", "churn.reason.last_contact", since=1) == "1 day since the last contact"
    assert t("en", "churn.reason.own_purchase_rhythm", gap=30, since=1) == (
        "usually buys every ~30 days; 1 day since the last order"
    )


def test_japanese_has_no_plural_forms() -> None:
    assert not [key for key, template in CATALOGUES["ja"].items() if "plural:" in template]
    said = t("ja", "profile.purchases", count=1, total="100 USD", last="2026-03-01")
    assert said == ":shopping_trolley: 購入 1 件 · 合計 100 USD · 最終 2026-03-01"


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_a_kind_that_is_not_one_is_answered_with_every_kind(language: str) -> None:
    said = t(language, "usage.unknown_kind", kind="fax")
    assert "fax" in said
    assert all(f"`{kind}`" in said for kind in LOGGABLE_KINDS)
