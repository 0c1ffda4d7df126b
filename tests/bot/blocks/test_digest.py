"""A digest that carries only the first items of each section renders as the whole digest would."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.blocks.digest import digest_fallback, render_digest
from crm_core.analytics.reasons import ReasonPart
from crm_core.digest.content import ITEMS_PER_SECTION, Digest, FollowUpItem, RiskItem

DAY = dt.date(2026, 11, 25)


def _follow_ups(count: int) -> tuple[FollowUpItem, ...]:
    return tuple(
        FollowUpItem(
            i, f"C{i}", f"Customer {i}", "U0REPA", DAY - dt.timedelta(days=i), f"note {i}", i % 3 == 0
        )
        for i in range(count)
    )


def _reason(i: int) -> tuple[ReasonPart, ...]:
    return (ReasonPart("churn.reason.own_purchase_rhythm", (("gap", 10), ("since", 20 + i))),)


def _risks(count: int) -> tuple[RiskItem, ...]:
    return tuple(
        RiskItem(f"R{i}", f"Risky {i}", "U0REPB", i % 4 == 0, "at_risk", _reason(i), "check_in", "Check in")
        for i in range(count)
    )


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("sizes", [(30, 12, 20, 6), (3, 0, 9, 0), (0, 0, 0, 4)])
def test_the_first_items_and_the_totals_render_as_the_whole_digest(
    language: str, sizes: tuple[int, int, int, int]
) -> None:
    overdue, due_today, new_risks, reactivated = sizes
    whole = Digest(
        recipient_id="U0BOSS",
        local_date=DAY,
        scope="team",
        overdue=_follow_ups(overdue),
        due_today=_follow_ups(due_today),
        new_risks=_risks(new_risks),
        reactivated=_risks(reactivated),
        kpis=None,
    )
    shown = ITEMS_PER_SECTION
    first_items = dataclasses.replace(
        whole,
        overdue=whole.overdue[: shown.overdue],
        due_today=whole.due_today[: shown.due_today],
        new_risks=whole.new_risks[: shown.new_risks],
        reactivated=whole.reactivated[: shown.reactivated],
        totals=whole.counts,
    )

    assert render_digest(first_items, language=language) == render_digest(whole, language=language)
    assert digest_fallback(first_items, language=language) == digest_fallback(whole, language=language)
