"""Renderers stay inside Block Kit's limits and keep user text inert, whatever the data."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.follow_ups import render_my_follow_ups
from bot.blocks.limits import MAX_MESSAGE_BLOCKS, MAX_TEXT, block_problems, cap_blocks, clip, context, escape
from bot.blocks.profile import render_profile_card
from crm_core.analytics.churn import RISK_LEVELS
from crm_core.customers.profile import ChurnRisk, ProfileView, PurchaseSummary
from crm_core.customers.views import CustomerView
from crm_core.follow_ups.service import FollowUpView
from crm_core.interactions.service import InteractionView
from crm_core.models import INTERACTION_KINDS, LIFECYCLE_STAGES
from tests.bot.harness import texts

TODAY = dt.date(2026, 3, 4)
# Mentions, broadcasts and links people might type, mixed with ordinary and Japanese text.
NASTY = st.sampled_from(
    ["<!channel>", "<!here|here>", "<@U0BOSS>", "<#C123>", "<https://evil|x>", "&", "*", "`", "|"]
)
WORDS = st.one_of(NASTY, st.text(max_size=40), st.sampled_from(["株式会社テスト", "Acme", "\n", " "]))
TEXT = st.builds(
    lambda parts, repeat: "".join(parts) * repeat, st.lists(WORDS, max_size=8), st.integers(1, 400)
)
SHORT = st.builds(lambda text: text[:200], TEXT)
USER = st.one_of(st.none(), st.sampled_from(["U0SALES", "W0ABC", "cli:alice", "<!channel>", ""]))
URL = st.one_of(
    st.none(), st.sampled_from(["https://x.slack.com/archives/C1/p1", "javascript:alert(1)", "https://a|b>"])
)
WHEN = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))
DAY = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1))

customers = st.builds(
    CustomerView,
    id=st.integers(1, 10**6),
    external_id=SHORT,
    name=SHORT,
    email=st.one_of(st.none(), SHORT),
    phone=st.one_of(st.none(), SHORT),
    company=st.one_of(st.none(), SHORT),
    owner_id=USER,
    lifecycle_stage=st.sampled_from(LIFECYCLE_STAGES),
    tags=st.lists(SHORT, max_size=30).map(tuple),
    custom_fields=st.just({}),
    created_at=WHEN,
)
interactions = st.builds(
    InteractionView,
    id=st.integers(1),
    customer_id=st.integers(1),
    kind=st.sampled_from(INTERACTION_KINDS),
    summary=TEXT,
    author=USER,
    occurred_at=WHEN,
    permalink=URL,
)
follow_ups = st.builds(
    FollowUpView,
    id=st.integers(1, 10**9),
    customer_id=st.integers(1),
    customer_name=SHORT,
    customer_external_id=SHORT,
    owner_id=USER,
    due_on=DAY,
    note=st.one_of(SHORT, st.just("<!channel> &" * 300)),
    status=st.sampled_from(["open", "snoozed"]),
    origin=st.just("manual"),
)
purchases = st.builds(
    PurchaseSummary,
    count=st.integers(0, 10**6),
    totals=st.lists(
        st.tuples(st.sampled_from(["JPY", "USD", "EUR"]), st.decimals(0, Decimal(10) ** 12, places=2)),
        max_size=3,
    ).map(tuple),
    last_at=st.one_of(st.none(), WHEN),
)
profiles = st.builds(
    ProfileView,
    customer=customers,
    recent_interactions=st.lists(interactions, max_size=8).map(tuple),
    open_follow_ups=st.one_of(
        st.lists(follow_ups, max_size=5), st.lists(follow_ups, min_size=45, max_size=60)
    ).map(tuple),
    purchases=purchases,
    segment=st.one_of(st.none(), SHORT),
    churn_risk=st.one_of(st.none(), st.builds(ChurnRisk, level=st.sampled_from(RISK_LEVELS), reason=TEXT)),
)


def assert_within_limits_and_inert(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert block_problems(blocks) == []
    assert all(len(text) <= MAX_TEXT for text in texts(blocks))
    for text in texts(blocks, "mrkdwn"):
        # The only markup that reaches Slack is ours: user mentions of real ids and https links.
        assert re.findall(r"<(?!@[UW][A-Z0-9]+>|https://[^\s<>|]+\|)", text) == [], text


@settings(max_examples=80, deadline=None)
@given(profile=profiles, language=st.sampled_from(["en", "ja"]))
def test_any_profile_card_fits_in_one_message_and_pings_nobody(profile: ProfileView, language: str) -> None:
    assert_within_limits_and_inert(render_profile_card(profile, language=language, today=TODAY))


@settings(max_examples=60, deadline=None)
@given(
    items=st.one_of(st.lists(follow_ups, max_size=3), st.lists(follow_ups, min_size=25, max_size=60)),
    language=st.sampled_from(["en", "ja"]),
)
def test_any_follow_up_list_fits_in_one_message(items: list[FollowUpView], language: str) -> None:
    assert_within_limits_and_inert(render_my_follow_ups(items, language=language, today=TODAY))


def test_cap_blocks_says_when_it_dropped_some() -> None:
    many = [context(str(n)) for n in range(60)]
    capped = cap_blocks(many, "more")
    assert len(capped) == MAX_MESSAGE_BLOCKS and capped[-1] == context("more") and capped[-2] == context("48")
    assert cap_blocks(many[:50], "more") == many[:50]


def test_clip_and_escape() -> None:
    assert clip("abcdef", 4) == "abc…" and clip("abcd", 4) == "abcd"
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
