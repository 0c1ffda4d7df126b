"""The profile card: one customer at a glance, with the buttons for what usually comes next.

Two versions: the viewer's own (ephemeral replies, DMs), with everything their role may see, and
the one shared in a channel, where anyone present (guests, Slack Connect members) reads it: built
from ``crm_core.read_models.channel_profile``, which holds no free text (no summaries, notes or thread
links, e-mail and phone masked, no revenue), and without buttons, since a click redraws the card
with the clicker's full view in place.
"""

from __future__ import annotations

import datetime as dt

from bot.blocks.churn import churn_reason_text
from bot.blocks.follow_ups import FollowUpButton, due_label
from bot.blocks.limits import (
    MAX_FIELD_TEXT,
    Block,
    button,
    cap_blocks,
    clip,
    context,
    escape,
    header,
    mrkdwn,
    section,
)
from bot.blocks.text import day, link, mention, money
from bot.ids import ActionId
from bot.messages import t
from crm_core.customer_view import CustomerView
from crm_core.interactions.service import InteractionView
from crm_core.read_models.channel_profile import ChannelProfile, TouchPoint
from crm_core.read_models.profile import ProfileView, PurchaseSummary

MAX_CARD_FOLLOW_UPS = 10
SUMMARY_PREVIEW = 280


def render_profile_card(profile: ProfileView, *, language: str, today: dt.date) -> list[Block]:
    """The card for its viewer only: what their role may see, and the buttons to act."""
    customer = profile.customer
    buttons = {
        "type": "actions",
        "elements": [
            button(
                t(language, "button.log"), ActionId.LOG_INTERACTION, customer.external_id, style="primary"
            ),
            button(t(language, "button.follow_up"), ActionId.ADD_FOLLOW_UP, customer.external_id),
            button(t(language, "button.share"), ActionId.SHARE_PROFILE, customer.external_id),
        ],
    }
    return cap_blocks([*_card(profile, language, today), buttons], t(language, "blocks.truncated"))


def render_shared_profile_card(
    profile: ChannelProfile, *, language: str, today: dt.date, shared_by: str
) -> list[Block]:
    """The card posted in a channel by ``shared_by``: facts and counts only, no buttons."""
    blocks: list[Block] = [
        header(profile.customer.name),
        _details(profile.customer, profile.segment, language),
    ]
    if profile.churn_level is not None:
        blocks.append(context(t(language, f"churn.{profile.churn_level}.level")))
    blocks.append({"type": "divider"})
    blocks.append(section(f"*{t(language, 'profile.recent')}*"))
    blocks.extend(context(_touch_point_line(point, language)) for point in profile.touch_points)
    if profile.interactions_logged:
        blocks.append(context(t(language, "profile.logged_count", count=profile.interactions_logged)))
    else:
        blocks.append(context(t(language, "profile.no_interactions")))
    blocks.append(section(f"*{t(language, 'profile.follow_ups')}*"))
    blocks.extend(_shared_follow_up_blocks(profile, language, today))
    blocks.append(context(t(language, "profile.shared_by", user=mention(shared_by))))
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def _card(profile: ProfileView, language: str, today: dt.date) -> list[Block]:
    blocks: list[Block] = [
        header(profile.customer.name),
        _details(profile.customer, profile.segment, language),
    ]
    risk = profile.churn_risk
    if risk is not None and risk.level != "ok":
        reason = churn_reason_text(risk.reason, language)
        blocks.append(context(t(language, f"churn.{risk.level}", reason=reason)))
    if profile.purchases is not None:  # None: the viewer's role may not see revenue
        blocks.append(context(_purchases(profile.purchases, language)))
    blocks.append({"type": "divider"})
    blocks.append(section(f"*{t(language, 'profile.recent')}*"))
    blocks.extend(section(_interaction_line(i, language)) for i in profile.recent_interactions)
    if not profile.recent_interactions:
        blocks.append(context(t(language, "profile.no_interactions")))
    blocks.append(section(f"*{t(language, 'profile.follow_ups')}*"))
    blocks.extend(_follow_up_blocks(profile, language, today))
    return blocks


def _details(customer: CustomerView, segment: str | None, language: str) -> Block:
    values = {
        "profile.company": escape(customer.company or ""),
        "profile.owner": mention(customer.owner_id) if customer.owner_id else "",
        "profile.email": escape(customer.email or ""),
        "profile.phone": escape(customer.phone or ""),
        "profile.stage": t(language, f"stage.{customer.lifecycle_stage}"),
        "profile.segment": escape(segment or ""),
        "profile.tags": ", ".join(f"`{escape(tag)}`" for tag in customer.tags),
    }
    fields = [
        mrkdwn(f"*{t(language, key)}*\n{value}", MAX_FIELD_TEXT) for key, value in values.items() if value
    ]
    return {"type": "section", "text": mrkdwn(f"`{escape(customer.external_id)}`"), "fields": fields}


def _purchases(summary: PurchaseSummary, language: str) -> str:
    if not summary.count:
        return t(language, "profile.no_purchases")
    totals = ", ".join(money(amount, currency) for currency, amount in summary.totals)
    last = day(summary.last_at) if summary.last_at else "—"
    return t(language, "profile.purchases", count=summary.count, total=totals, last=last)


def _interaction_line(interaction: InteractionView, language: str) -> str:
    thread = link(interaction.permalink, t(language, "profile.thread"))
    summary = escape(clip(" ".join(interaction.summary.split()), SUMMARY_PREVIEW))
    parts = [
        f"*{day(interaction.occurred_at)}* · {t(language, f'kind.{interaction.kind}')}",
        mention(interaction.author),
        thread,
    ]
    return " · ".join(p for p in parts if p) + f"\n{summary}"


def _touch_point_line(point: TouchPoint, language: str) -> str:
    return " · ".join(
        [f"*{day(point.occurred_at)}*", t(language, f"kind.{point.kind}"), mention(point.author)]
    )


def _follow_up_blocks(profile: ProfileView, language: str, today: dt.date) -> list[Block]:
    follow_ups = profile.open_follow_ups
    if not follow_ups:
        return [context(t(language, "profile.no_follow_ups"))]
    blocks: list[Block] = []
    for follow_up in follow_ups[:MAX_CARD_FOLLOW_UPS]:
        block = section(f"{due_label(follow_up.due_on, today, language)} {escape(follow_up.note)}")
        value = FollowUpButton(follow_up.id, profile.customer.external_id).encode()
        block["accessory"] = button(t(language, "button.done"), ActionId.MARK_DONE, value)
        blocks.append(block)
    blocks.extend(_more_follow_ups(len(follow_ups), language))
    return blocks


def _shared_follow_up_blocks(profile: ChannelProfile, language: str, today: dt.date) -> list[Block]:
    follow_ups = profile.follow_ups_due
    if not follow_ups:
        return [context(t(language, "profile.no_follow_ups"))]
    blocks = [
        context(f"{due_label(f.due_on, today, language)} · {mention(f.owner_id)}")
        for f in follow_ups[:MAX_CARD_FOLLOW_UPS]
    ]
    return blocks + _more_follow_ups(len(follow_ups), language)


def _more_follow_ups(count: int, language: str) -> list[Block]:
    if count <= MAX_CARD_FOLLOW_UPS:
        return []
    return [context(t(language, "profile.more_follow_ups", count=count - MAX_CARD_FOLLOW_UPS))]
