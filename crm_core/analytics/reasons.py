"""Why a customer is at risk, as message keys with parameters: the Slack layer words them per language.

A reason is a few parts, each a fact a person can check on the timeline (the usual rhythm, the days
of silence) or the score itself (the chance of buying again, and a month ago). Purchase facts are
only for roles that may see purchases (``Permission.READ_REVENUE``): others get what the contacts
say, or that the judgement rests on purchases they cannot see. Parameters are whole numbers (days,
percent), so every catalogue formats them alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crm_core.analytics.churn import (
    OWN_CONTACT_RHYTHM,
    OWN_PURCHASE_RHYTHM,
    REASON_COLUMNS,
    TEAM_CONTACT_RHYTHM,
    TYPICAL_PURCHASE_RHYTHM,
)

KEY_PREFIX = "churn.reason."
RETURN_CHANCE = "return_chance"
RETURN_CHANCE_TREND = "return_chance_trend"
LAST_CONTACT = "last_contact"
PURCHASES_NOT_SHOWN = "purchases_not_shown"
CONTACT_RHYTHMS = (OWN_CONTACT_RHYTHM, TEAM_CONTACT_RHYTHM)
PURCHASE_RHYTHMS = (OWN_PURCHASE_RHYTHM, TYPICAL_PURCHASE_RHYTHM)


@dataclass(frozen=True)
class ReasonPart:
    """``key`` is a message key of the bot's catalogues; ``params`` fill its placeholders."""

    key: str
    params: tuple[tuple[str, int], ...] = ()

    @property
    def values(self) -> dict[str, int]:
        return dict(self.params)


Reason = tuple[ReasonPart, ...]


@dataclass(frozen=True)
class Reasons:
    """A customer's reason for each audience: with purchase facts, and without them."""

    with_purchases: Reason
    without_purchases: Reason

    def for_viewer(self, *, sees_purchases: bool) -> Reason:
        return self.with_purchases if sees_purchases else self.without_purchases


NO_REASONS = Reasons((), ())
STORED_FACTS = (*REASON_COLUMNS, "p_return_90d")


def stored_facts(scores: pd.DataFrame) -> list[str]:
    """Each row's reason facts as the JSON kept in the store (``customer_scores.reason``); "" when ok.

    The facts are kept, not the parts, so the reason is chosen for each viewer's role when it is
    read. Written by hand rather than by ``json.dumps``: a million customers are scored each morning.
    """
    columns = [scores[name].astype(str) if name == "reason_key" else scores[name] for name in STORED_FACTS]
    rows = zip(*(column.tolist() for column in columns), strict=True)
    return [
        ""
        if not values[0]
        else "{" + ",".join(_json_field(n, v) for n, v in zip(STORED_FACTS, values, strict=True)) + "}"
        for values in rows
    ]


def reasons_from_stored(text: str) -> Reasons:
    """The reasons from ``stored_facts``' JSON.

    A reason stored as English text by an older version reads as none until the next scoring.
    """
    try:
        facts = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return NO_REASONS
    if not isinstance(facts, dict) or not set(STORED_FACTS) <= set(facts):
        return NO_REASONS
    return churn_reasons({name: math.nan if value is None else value for name, value in facts.items()})


def _json_field(name: str, value: Any) -> str:
    if isinstance(value, str):
        return f'"{name}":"{value}"'
    return f'"{name}":null' if not _known(value) else f'"{name}":{float(value)!r}'


def churn_reasons(facts: Mapping[Any, Any]) -> Reasons:
    """The reasons of one customer from a row of ``churn_risk`` (or of the scores, which hold it)."""
    key = str(facts.get("reason_key") or "")
    if not key:
        return NO_REASONS
    rhythm = _part(key, gap=facts["usual_gap_days"], since=facts["days_silent"])
    if key in CONTACT_RHYTHMS:
        return Reasons((rhythm,), (rhythm,))
    chance, before = facts["p_return_90d"], facts["p_return_month_ago"]
    with_purchases: list[ReasonPart] = [rhythm]
    if _known(before):
        with_purchases.append(_part(RETURN_CHANCE_TREND, chance=_percent(chance), before=_percent(before)))
    elif _known(chance):
        with_purchases.append(_part(RETURN_CHANCE, chance=_percent(chance)))
    contact = facts.get("days_since_contact")
    hidden = _part(LAST_CONTACT, since=contact) if _known(contact) else _part(PURCHASES_NOT_SHOWN)
    return Reasons(tuple(with_purchases), (hidden,))


def _part(key: str, **params: Any) -> ReasonPart:
    name = key.removeprefix(KEY_PREFIX)
    return ReasonPart(KEY_PREFIX + name, tuple((k, round(float(v))) for k, v in params.items()))


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _percent(chance: float) -> float:
    return 100.0 * float(chance)
