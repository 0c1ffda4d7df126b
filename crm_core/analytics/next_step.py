"""The next step to suggest for each customer, as a table a manager can read and reorder.

Rules are tried in order and the first that applies wins, so the most valuable action comes first:
a VIP drifting away matters more than thanking a new buyer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.analytics.churn import AT_RISK, CHURNED, OK
from crm_core.analytics.frames import FrameContractError

# A first purchase today, yesterday or the day before still deserves a thank-you.
NEW_BUYER_DAYS = 3

NEXT_STEP_INPUT_COLUMNS = ("vip", "churn_risk", "frequency", "days_since_first_purchase", "segment")


@dataclass(frozen=True)
class NextStepRule:
    """``key`` names the message in the bot's catalogues; ``text`` is its English wording."""

    key: str
    text: str
    applies: Callable[[pd.DataFrame], pd.Series]


NEXT_STEP_RULES = (
    # At risk or already churned: either way a VIP is worth the owner's own call.
    NextStepRule("personal_call", "Personal call by the owner", lambda c: c["vip"] & (c["churn_risk"] != OK)),
    NextStepRule(
        "win_back_offer",
        "Send the win-back offer",
        lambda c: (c["churn_risk"] == CHURNED) & (c["frequency"] >= 2),
    ),
    NextStepRule(
        "thank_you_follow_up",
        "Thank-you follow-up in 3 days",
        lambda c: c["days_since_first_purchase"] < NEW_BUYER_DAYS,
    ),
    NextStepRule("check_in", "Check in", lambda c: c["churn_risk"] == AT_RISK),
    NextStepRule("ask_referral", "Ask for a referral", lambda c: c["segment"] == "Champions"),
)


def next_steps(scores: pd.DataFrame, rules: tuple[NextStepRule, ...] = NEXT_STEP_RULES) -> pd.DataFrame:
    """``next_step_key`` and ``next_step`` (both empty when no rule applies) per row of ``scores``.

    ``scores`` needs ``NEXT_STEP_INPUT_COLUMNS``; customers who never bought have NaN purchase
    columns, which no purchase rule matches.
    """
    missing = [column for column in NEXT_STEP_INPUT_COLUMNS if column not in scores.columns]
    if missing:
        raise FrameContractError(f"next steps need column(s) {', '.join(missing)}")
    conditions = [rule.applies(scores).fillna(False).astype(bool).to_numpy() for rule in rules]
    # Categoricals: a handful of distinct texts, cheap to hold and compare for millions of customers.
    chosen = np.select(conditions, list(range(len(rules))), len(rules)).astype(np.int64)
    return pd.DataFrame(
        {
            "next_step_key": pd.Categorical.from_codes(
                chosen, categories=pd.Index([rule.key for rule in rules] + [""])
            ),
            "next_step": pd.Categorical.from_codes(
                chosen, categories=pd.Index([rule.text for rule in rules] + [""])
            ),
        },
        index=scores.index,
    )
