"""A channel alert: one line saying what happened, and the customer as a shared card shows them.

The customer arrives masked (``crm_core.alerts.pending``): e-mail and phone cut, and no text a
person typed (a support summary, a follow-up note) is in an alert at all, since channels may hold
guests. Pure: the same alert renders the same blocks in every replica.
"""

from __future__ import annotations

from bot.blocks.limits import Block, context, escape, section
from bot.blocks.text import mention
from bot.messages import t
from crm_core.alerts.pending import PendingAlert
from crm_core.alerts.topics import Topic


def alert_text(alert: PendingAlert) -> str:
    """The alert's one line, also the notification's fallback text."""
    language, name = alert.language, escape(alert.customer.name)
    params: dict[str, object] = {"customer": name}
    if alert.topic is Topic.SUPPORT:
        params["author"] = mention(alert.detail.get("author"))
    elif alert.topic is Topic.VIP_RISK:
        params["level"] = t(language, f"alert.level.{alert.detail.get('churn_risk', 'at_risk')}")
    elif alert.topic is Topic.OVERDUE:
        params["due"] = alert.detail.get("due_on", "")
    return t(language, f"alert.{alert.topic.value}", **params)


def render_alert(alert: PendingAlert) -> list[Block]:
    customer, language = alert.customer, alert.language
    facts = [
        t(language, "alert.owner", owner=mention(alert.owner_id))
        if alert.owner_id
        else t(language, "alert.no_owner"),
        *(escape(value) for value in (customer.company, customer.email, customer.phone) if value),
        f"`{escape(customer.external_id)}`",
    ]
    return [section(alert_text(alert)), context(" · ".join(facts))]
