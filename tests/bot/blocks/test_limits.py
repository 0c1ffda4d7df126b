"""Renderers stay inside Block Kit's limits and keep user text inert, whatever the data."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.audit import render_audit
from bot.blocks.customers import render_candidates, render_no_match
from bot.blocks.digest import render_digest
from bot.blocks.follow_ups import render_my_follow_ups
from bot.blocks.home import render_home
from bot.blocks.limits import (
    MAX_MESSAGE_BLOCKS,
    MAX_TEXT,
    MAX_VIEW_BLOCKS,
    block_problems,
    cap_blocks,
    clip,
    context,
    escape,
    section,
)
from bot.blocks.profile import render_profile_card, render_shared_profile_card
from bot.messages import t
from bot.parsing.grammar import UsageError, parse_command
from crm_core.analytics.churn import RISK_LEVELS
from crm_core.analytics.reasons import ReasonPart
from crm_core.customer_view import CustomerView
from crm_core.digest.content import Digest, FollowUpItem, RiskItem
from crm_core.follow_ups.service import FollowUpView
from crm_core.interactions.service import InteractionView, TouchedCustomer
from crm_core.masking import mask_email, mask_phone
from crm_core.models import INTERACTION_KINDS, LIFECYCLE_STAGES
from crm_core.read_models.audit_trail import AuditEntry
from crm_core.read_models.channel_profile import channel_profile
from crm_core.read_models.profile import ChurnRisk, ProfileView, PurchaseSummary
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
# Reasons are message keys with whole-number parameters: the longest numbers make the longest lines.
_DAYS = st.integers(min_value=0, max_value=10**6)
REASONS = st.lists(
    st.one_of(
        st.builds(
            lambda gap, since: ReasonPart(
                "churn.reason.own_purchase_rhythm", (("gap", gap), ("since", since))
            ),
            _DAYS,
            _DAYS,
        ),
        st.builds(
            lambda now, before: ReasonPart(
                "churn.reason.return_chance_trend", (("chance", now), ("before", before))
            ),
            st.integers(0, 100),
            st.integers(0, 100),
        ),
        st.builds(lambda since: ReasonPart("churn.reason.last_contact", (("since", since),)), _DAYS),
        st.just(ReasonPart("churn.reason.purchases_not_shown")),
    ),
    max_size=3,
).map(tuple)

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
    purchases=st.one_of(st.none(), purchases),
    segment=st.one_of(st.none(), SHORT),
    churn_risk=st.one_of(st.none(), st.builds(ChurnRisk, level=st.sampled_from(RISK_LEVELS), reason=REASONS)),
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
    in_channel = channel_profile(profile, interactions_logged=len(profile.recent_interactions))
    shared = render_shared_profile_card(in_channel, language=language, today=TODAY, shared_by="U0SALES")
    assert_within_limits_and_inert(shared)
    shown = {field["text"] for field in shared[1]["fields"]}
    customer = profile.customer
    for key, contact, masked in [
        ("profile.email", customer.email, customer.email and mask_email(customer.email)),
        ("profile.phone", customer.phone, customer.phone and mask_phone(customer.phone)),
    ]:
        if contact:
            label = f"*{t(language, key)}*\n"
            assert label + escape(masked or "") in shown
            assert contact == masked or label + escape(contact) not in shown


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


follow_up_items = st.builds(
    FollowUpItem,
    follow_up_id=st.integers(1, 10**9),
    customer_external_id=SHORT,
    customer_name=SHORT,
    owner_id=USER,
    due_on=DAY,
    note=st.one_of(SHORT, st.just("<!channel> &" * 300)),
    vip=st.booleans(),
)
risk_items = st.builds(
    RiskItem,
    customer_external_id=SHORT,
    customer_name=SHORT,
    owner_id=USER,
    vip=st.booleans(),
    churn_risk=st.sampled_from(RISK_LEVELS),
    reason=REASONS,
    next_step_key=st.sampled_from(["personal_call", "not_a_key", ""]),
    next_step=SHORT,
)
digests = st.builds(
    Digest,
    recipient_id=st.just("U0SALES"),
    local_date=DAY,
    scope=st.sampled_from(["team", "own"]),
    overdue=st.lists(follow_up_items, max_size=30).map(tuple),
    due_today=st.lists(follow_up_items, max_size=10).map(tuple),
    new_risks=st.lists(risk_items, max_size=15).map(tuple),
    reactivated=st.lists(risk_items, max_size=5).map(tuple),
    kpis=st.none(),
)


@settings(max_examples=60, deadline=None)
@given(digest=digests, language=st.sampled_from(["en", "ja"]))
def test_any_digest_fits_in_one_message_and_pings_nobody(digest: Digest, language: str) -> None:
    blocks = render_digest(digest, language=language)
    assert_within_limits_and_inert(blocks)


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(follow_ups, max_size=60),
    touched=st.lists(st.builds(TouchedCustomer, customer=customers, last_touched_at=WHEN), max_size=10),
    language=st.sampled_from(["en", "ja"]),
)
def test_any_home_tab_fits_in_one_view_and_pings_nobody(
    items: list[FollowUpView], touched: list[TouchedCustomer], language: str
) -> None:
    blocks = render_home(items, touched, language=language, today=TODAY)["blocks"]
    assert len(blocks) <= MAX_VIEW_BLOCKS and block_problems(blocks, max_blocks=MAX_VIEW_BLOCKS) == []
    assert_within_limits_and_inert([b for b in blocks if b.get("type") != "header"][:MAX_MESSAGE_BLOCKS])


audit_entries = st.builds(
    AuditEntry,
    occurred_at=WHEN,
    actor=st.one_of(SHORT, st.sampled_from(["U0SALES", "cli:<!channel>"])),
    surface=SHORT,
    action=SHORT,
    customer_id=st.none(),
    customer_external_id=st.none(),
    allowed=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(name=SHORT, entries=st.lists(audit_entries, max_size=100), language=st.sampled_from(["en", "ja"]))
def test_any_audit_trail_fits_in_one_message_and_pings_nobody(
    name: str, entries: list[AuditEntry], language: str
) -> None:
    assert_within_limits_and_inert(render_audit(name, entries, language=language, timezone=ZoneInfo("UTC")))


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        TEXT,
        st.lists(
            st.one_of(
                NASTY,
                st.sampled_from(["find", "log", "call", "admin", "audit", "role", "fu", "tomorrow", '"']),
            ),
            max_size=10,
        ).map(" ".join),
    ),
    candidates=st.lists(customers, max_size=12),
    language=st.sampled_from(["en", "ja"]),
)
def test_any_command_text_gets_an_answer_within_limits_that_pings_nobody(
    text: str, candidates: list[CustomerView], language: str
) -> None:
    """Whatever is typed after /crm: a usage message, or what the command's renderers show."""
    try:
        command = parse_command(text, today=TODAY)
    except UsageError as error:
        params = {name: escape(value) for name, value in error.params.items()}
        if "missing" in params:
            params["missing"] = t(language, f"part.{params['missing']}")
        # The catalogue's own `<customer>` placeholders are ours; only the parameters are the user's.
        assert block_problems([section(t(language, error.key, **params))]) == []
        assert not any("<" in value or ">" in value for value in params.values())
        return
    words = [
        getattr(command, name)
        for name in ("query", "customer", "summary", "note", "user_id", "role")
        if hasattr(command, name)
    ]
    for word in words:
        assert_within_limits_and_inert(render_no_match(word, candidates[:3], language=language))
        assert_within_limits_and_inert(render_candidates(word, candidates, language=language))
        assert_within_limits_and_inert([section(t(language, "log.done", kind="x", customer=escape(word)))])
