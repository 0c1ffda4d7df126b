"""The profile card: one customer at a glance, with the buttons for what usually comes next.

Two versions: the viewer's own (ephemeral replies, DMs), with everything their role may see, and
the one shared in a channel, where anyone present (guests too) reads it: e-mail and phone masked,
no revenue, and no buttons, since a click redraws the card with the clicker's full view in place.
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
from crm_core.access.masking import mask_email, mask_phone
from crm_core.read_models.profile import ProfileView, PurchaseSummary
from crm_core.interactions.service import InteractionView

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
    return cap_blocks(
        [*_card(profile, language, today, shared=False), buttons], t(language, "blocks.truncated")
    )


def render_shared_profile_card(
    profile: ProfileView, *, language: str, today: dt.date, shared_by: str
) -> list[Block]:
    """The card posted in a channel by ``shared_by``: contact details masked, no revenue, no buttons."""
    card = _card(profile, language, today, shared=True)
    return cap_blocks(
        [*card, context(t(language, "profile.shared_by", user=mention(shared_by)))],
        t(language, "blocks.truncated"),
    )


def _card(profile: ProfileView, language: str, today: dt.date, *, shared: bool) -> list[Block]:
    blocks: list[Block] = [header(profile.customer.name), _details(profile, language, shared=shared)]
    risk = profile.churn_risk
    if risk is not None and risk.level != "ok":
        reason = churn_reason_text(risk.reason, language)
        blocks.append(context(t(language, f"churn.{risk.level}", reason=reason)))
    if profile.purchases is not None and not shared:  # None: the viewer's role may not see revenue
        blocks.append(context(_purchases(profile.purchases, language)))
    blocks.append({"type": "divider"})
    blocks.append(section(f"*{t(language, 'profile.recent')}*"))
    blocks.extend(section(_interaction_line(i, language)) for i in profile.recent_interactions)
    if not profile.recent_interactions:
        blocks.append(context(t(language, "profile.no_interactions")))
    blocks.append(section(f"*{t(language, 'profile.follow_ups')}*"))
    blocks.extend(_follow_up_blocks(profile, language, today, with_buttons=not shared))
    return blocks


def _details(profile: ProfileView, language: str, *, shared: bool) -> Block:
    customer = profile.customer
    email, phone = customer.email or "", customer.phone or ""
    if shared:
        email, phone = email and mask_email(email), phone and mask_phone(phone)
    values = {
        "profile.company": escape(customer.company or ""),
        "profile.owner": mention(customer.owner_id) if customer.owner_id else "",
        "profile.email": escape(email),
        "profile.phone": escape(phone),
        "profile.stage": t(language, f"stage.{customer.lifecycle_stage}"),
        "profile.segment": escape(profile.segment or ""),
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


def _follow_up_blocks(
    profile: ProfileView, language: str, today: dt.date, *, with_buttons: bool
) -> list[Block]:
    follow_ups = profile.open_follow_ups
    if not follow_ups:
        return [context(t(language, "profile.no_follow_ups"))]
    blocks: list[Block] = []
    for follow_up in follow_ups[:MAX_CARD_FOLLOW_UPS]:
        block = section(f"{due_label(follow_up.due_on, today, language)} {escape(follow_up.note)}")
        if with_buttons:
            value = FollowUpButton(follow_up.id, profile.customer.external_id).encode()
            block["accessory"] = button(t(language, "button.done"), ActionId.MARK_DONE, value)
        blocks.append(block)
    if len(follow_ups) > MAX_CARD_FOLLOW_UPS:
        blocks.append(
            context(t(language, "profile.more_follow_ups", count=len(follow_ups) - MAX_CARD_FOLLOW_UPS))
        )
    return blocks
