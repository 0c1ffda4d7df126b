"""A churn reason in the reader's language: the core gives message keys with parameters, this words them."""

from __future__ import annotations

from bot.messages import t
from crm_core.analytics.reasons import Reason


def churn_reason_text(reason: Reason, language: str) -> str:
    """The parts of ``reason`` worded in ``language`` and joined; empty for no reason."""
    separator = t(language, "churn.reason.separator")
    return separator.join(t(language, part.key, **part.values) for part in reason)
