"""The profile card: one customer at a glance, with the buttons for what usually comes next."""

from __future__ import annotations

import datetime as dt

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
from crm_core.customers.profile import ProfileView, PurchaseSummary
from crm_core.interactions.service import InteractionView

MAX_CARD_FOLLOW_UPS = 10
SUMMARY_PREVIEW = 280


def render_profile_card(profile: ProfileView, *, language: str, today: dt.date) -> list[Block]:
    customer = profile.customer
    blocks: list[Block] = [header(customer.name), _details(profile, language)]
    risk = profile.churn_risk
    if risk is not None and risk.level != "ok":
        blocks.append(context(t(language, f"churn.{risk.level}", reason=escape(risk.reason))))
    blocks.append(context(_purchases(profile.purchases, language)))
    blocks.append({"type": "divider"})
    blocks.append(section(f"*{t(language, 'profile.recent')}*"))
    blocks.extend(section(_interaction_line(i, language)) for i in profile.recent_interactions)
    if not profile.recent_interactions:
        blocks.append(context(t(language, "profile.no_interactions")))
    blocks.append(section(f"*{t(language, 'profile.follow_ups')}*"))
    blocks.extend(_follow_up_blocks(profile, language, today))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                button(
                    t(language, "button.log"), ActionId.LOG_INTERACTION, customer.external_id, style="primary"
                ),
                button(t(language, "button.follow_up"), ActionId.ADD_FOLLOW_UP, customer.external_id),
            ],
        }
    )
    return cap_blocks(blocks, t(language, "blocks.truncated"))


def _details(profile: ProfileView, language: str) -> Block:
    customer = profile.customer
    values = {
        "profile.company": escape(customer.company or ""),
        "profile.owner": mention(customer.owner_id) if customer.owner_id else "",
        "profile.email": escape(customer.email or ""),
        "profile.phone": escape(customer.phone or ""),
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


def _follow_up_blocks(profile: ProfileView, language: str, today: dt.date) -> list[Block]:
    follow_ups = profile.open_follow_ups
    if not follow_ups:
        return [context(t(language, "profile.no_follow_ups"))]
    blocks: list[Block] = []
    for follow_up in follow_ups[:MAX_CARD_FOLLOW_UPS]:
        value = FollowUpButton(follow_up.id, profile.customer.external_id).encode()
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(f"{due_label(follow_up.due_on, today, language)} {escape(follow_up.note)}"),
                "accessory": button(t(language, "button.done"), ActionId.MARK_DONE, value),
            }
        )
    if len(follow_ups) > MAX_CARD_FOLLOW_UPS:
        blocks.append(
            context(t(language, "profile.more_follow_ups", count=len(follow_ups) - MAX_CARD_FOLLOW_UPS))
        )
    return blocks
