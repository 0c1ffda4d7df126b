"""Formatting domain values for mrkdwn: mentions, links, dates, money, customer names."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bot.blocks.limits import escape
from crm_core.customer_view import CustomerView

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_SAFE_URL = re.compile(r"https://[^\s<>|]+")
_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id; anything else (``cli:alice``) is shown as inert text."""
    if not user_id:
        return "—"
    return f"<@{user_id}>" if _SLACK_USER_ID.fullmatch(user_id) else escape(user_id)


def link(url: str | None, label: str) -> str:
    """A link only to a plain https URL, so stored data cannot smuggle mrkdwn into the card."""
    return f"<{url}|{escape(label)}>" if url and _SAFE_URL.fullmatch(url) else ""


def day(value: dt.date | dt.datetime) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def money(amount: Decimal, currency: str) -> str:
    places = 0 if currency.upper() in _ZERO_DECIMAL_CURRENCIES else 2
    return f"{amount:,.{places}f} {escape(currency)}"


def customer_line(customer: CustomerView) -> str:
    """``*Name* · company · e-mail``: enough to tell two similar customers apart."""
    details = [escape(part) for part in (customer.company, customer.email) if part]
    return " · ".join([f"*{escape(customer.name)}*", *details])
