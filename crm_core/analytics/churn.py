"""Churn risk per customer, with the facts behind it that a person can check on the timeline.

Buyers are judged by their chance of buying again within the horizon (``returning``: MBG/NBD
recalibrated on the store's own history) once they are overdue by their own rhythm: ``ok`` until
their usual gap has passed, then ``at_risk`` below ``AT_RISK_CHANCE`` and ``churned`` below
``CHURNED_CHANCE``, thresholds chosen so the share who buy again falls at each step (see
docs/ANALYTICS.md and ``crm-bot analytics backtest``). Without a model (too few repeat buyers),
and for customers who never bought, the rhythm alone decides, compared with the customer's own
usual gap or, below a few observations, the usual gap of other customers (or the team's).

The reason is not text: ``reason_key`` names the rhythm that applies and the ``REASON_COLUMNS``
hold the numbers; ``crm_core.analytics.reasons`` turns them into message keys with parameters for
the reader's role, and the Slack layer words them in the reader's language.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crm_core.analytics.aligned import aligned
from crm_core.analytics.frames import validate_customers
from crm_core.analytics.history import ContactDays, PurchaseDays, day_number, day_timestamps
from crm_core.analytics.returning import ReturnModel, p_return

OK, AT_RISK, CHURNED = "ok", "at_risk", "churned"
RISK_LEVELS = (OK, AT_RISK, CHURNED)
RISK_DTYPE = pd.CategoricalDtype(list(RISK_LEVELS))

# Chances of buying again within the horizon below which an overdue buyer is at risk, or churned.
AT_RISK_CHANCE = 0.3
CHURNED_CHANCE = 0.1
# Without a model: overdue (at risk) after this many usual gaps of silence. Lapsed (churned): twice
# that, and over a year, so a customer who reorders yearly is not written off after the anniversary.
OVERDUE_GAPS = 2.0
LAPSED_GAPS = 4.0
LAPSED_AFTER_DAYS = 365
TEAM_GAP_DAYS = 30.0
MIN_CONTACT_DAYS_FOR_RHYTHM = 3
# How far back the chance is compared, so the reason shows a trend and not only a level.
TREND_DAYS = 30

# Which rhythm a flagged customer's reason quotes (``reason_key``; empty when ok).
OWN_PURCHASE_RHYTHM = "own_purchase_rhythm"
TYPICAL_PURCHASE_RHYTHM = "typical_purchase_rhythm"
OWN_CONTACT_RHYTHM = "own_contact_rhythm"
TEAM_CONTACT_RHYTHM = "team_contact_rhythm"
REASON_KEYS = (OWN_PURCHASE_RHYTHM, TYPICAL_PURCHASE_RHYTHM, OWN_CONTACT_RHYTHM, TEAM_CONTACT_RHYTHM)
REASON_KEY_DTYPE = pd.CategoricalDtype(["", *REASON_KEYS])

LEVEL_COLUMNS = ("churn_risk", "p_return_90d", "last_activity_on")
REASON_COLUMNS = (
    "reason_key",
    "usual_gap_days",
    "days_silent",
    "days_since_contact",
    "p_return_month_ago",
)
CHURN_COLUMNS = (*LEVEL_COLUMNS, *REASON_COLUMNS)


def churn_risk(
    *,
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    returns: ReturnModel | None,
    today: dt.date,
) -> pd.DataFrame:
    """``CHURN_COLUMNS`` per customer: the levels of ``churn_levels`` and the facts of the reason.

    ``usual_gap_days`` and ``days_silent`` are the rhythm the reason quotes (purchases for buyers,
    contacts for the others), ``days_since_contact`` what can be said without purchase facts, and
    ``p_return_month_ago`` the chance ``TREND_DAYS`` earlier, by the same model, for the trend.
    """
    facts = _assess(customers, purchases, contacts, returns, today)
    flagged = (facts["churn_risk"] != OK).to_numpy()
    is_buyer = facts["is_buyer"].to_numpy()
    own_contact = facts["own_contact_rhythm"].to_numpy()
    key = np.select(
        [
            flagged & is_buyer & facts["repeat"].to_numpy(),
            flagged & is_buyer,
            flagged & own_contact,
            flagged & facts["is_contact"].to_numpy(),
        ],
        list(range(1, len(REASON_KEYS) + 1)),  # the codes of REASON_KEYS in REASON_KEY_DTYPE
        0,
    ).astype(np.int64)
    month_ago = pd.Timestamp(today) - pd.Timedelta(days=TREND_DAYS)
    before = _p_return(purchases, returns, month_ago, facts.index)
    return facts[list(LEVEL_COLUMNS)].assign(
        reason_key=pd.Categorical.from_codes(key, dtype=REASON_KEY_DTYPE),
        usual_gap_days=facts["usual_gap"],
        days_silent=facts["since"],
        days_since_contact=facts["since_contact"],
        p_return_month_ago=np.where(flagged, before, np.nan),
    )


def churn_levels(
    *,
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    returns: ReturnModel | None,
    today: dt.date,
) -> pd.DataFrame:
    """``LEVEL_COLUMNS`` per customer: ``churn_risk`` (a categorical of ``RISK_LEVELS``),
    ``p_return_90d`` and ``last_activity_on``, without the facts of the reasons.

    ``p_return_90d`` is NaN without purchases or without a fitted model. ``returns`` may have been
    fitted at another date: only its parameters are used, on the history cut at ``today``, so the
    same fit judges today and a month ago alike.
    """
    return _assess(customers, purchases, contacts, returns, today)[list(LEVEL_COLUMNS)]


def reactivated(*, before: pd.DataFrame, now: pd.DataFrame, since: dt.date) -> pd.Series:
    """Customers at risk or churned in ``before`` (as of ``since``), active after it, and ok ``now``.

    Both frames come from ``churn_levels`` or ``churn_risk``; they are compared rather than computed
    here so a caller who already has today's risk pays only for the earlier levels.
    """
    was_flagged = aligned(before["churn_risk"], now.index).isin([AT_RISK, CHURNED])
    active_since = now["last_activity_on"] > pd.Timestamp(since).normalize()
    return (was_flagged & active_since & (now["churn_risk"] == OK)).rename("reactivated")


def _assess(
    customers: pd.DataFrame,
    purchases: PurchaseDays,
    contacts: ContactDays,
    returns: ReturnModel | None,
    today: dt.date,
) -> pd.DataFrame:
    """The levels, and the facts behind them that the reasons quote."""
    index = validate_customers(customers).index
    today_day = day_number(today)
    known_purchases, known_contacts = purchases.until(today), contacts.until(today)
    bought = aligned(known_purchases.per_customer, index)
    contacted = aligned(known_contacts.per_customer, index)
    is_buyer = bought["last_day"].notna().to_numpy()
    is_contact_only = ~is_buyer & contacted["last_day"].notna().to_numpy()
    repeat = (bought["purchase_days"] > 1).to_numpy()

    purchase_gap = aligned(_usual_purchase_gap(known_purchases), index).to_numpy()
    contact_gap = aligned(_usual_contact_gap(known_contacts), index).to_numpy()
    since_purchase = today_day - bought["last_day"].to_numpy()
    since_contact = today_day - contacted["last_day"].to_numpy()
    last_activity = np.fmax(bought["last_day"].to_numpy(), contacted["last_day"].to_numpy())
    silence = today_day - last_activity
    usual_gap = np.where(is_buyer, purchase_gap, contact_gap)

    chance = _p_return(known_purchases, returns, today, index)
    lapsed = (silence > LAPSED_GAPS * usual_gap) & (silence > LAPSED_AFTER_DAYS)
    overdue_contact = is_contact_only & (since_contact > OVERDUE_GAPS * contact_gap)
    if returns is None:
        overdue_purchase = is_buyer & (since_purchase > OVERDUE_GAPS * purchase_gap)
        churned, at_risk = lapsed, overdue_purchase | overdue_contact
    else:
        # A buyer is not flagged before their usual gap has passed, however low their chance: most
        # first-time buyers never return, but yesterday's has not yet had the time to.
        due = is_buyer & (since_purchase > purchase_gap)
        churned = (due & (chance < CHURNED_CHANCE)) | (is_contact_only & lapsed)
        at_risk = (due & (chance < AT_RISK_CHANCE)) | overdue_contact
    risk_codes = np.select(
        [churned, at_risk], [RISK_LEVELS.index(CHURNED), RISK_LEVELS.index(AT_RISK)], RISK_LEVELS.index(OK)
    ).astype(np.int64)
    return pd.DataFrame(
        {
            "churn_risk": pd.Categorical.from_codes(risk_codes, dtype=RISK_DTYPE),
            "p_return_90d": np.where(is_buyer, chance, np.nan),
            "last_activity_on": day_timestamps(pd.Series(last_activity, index=index)),
            "is_buyer": is_buyer,
            "is_contact": is_contact_only,
            "repeat": repeat,
            "usual_gap": usual_gap,
            "since": np.where(is_buyer, since_purchase, since_contact),
            "since_contact": since_contact,
            "own_contact_rhythm": (contacted["contact_days"] >= MIN_CONTACT_DAYS_FOR_RHYTHM).to_numpy(),
        },
        index=index,
        # A block per column, not consolidated: ``churn_levels`` keeps three of these columns,
        # and a selection from a consolidated block would keep the whole block (38 MB at 1M).
        copy=False,
    )


def _usual_purchase_gap(purchases: PurchaseDays) -> pd.Series:
    """A repeat buyer's own median gap; one-time buyers get the repeat buyers' typical gap."""
    own = purchases.median_gap_days
    typical = float(own.median()) if len(own) else TEAM_GAP_DAYS
    return aligned(own, purchases.per_customer.index, fill_value=typical)


def _usual_contact_gap(contacts: ContactDays) -> pd.Series:
    """A customer's own median gap once there are enough contact days, else the team's rhythm."""
    counted = contacts.per_customer["contact_days"]
    own = aligned(contacts.median_gap_days, counted.index)
    return own.where(counted >= MIN_CONTACT_DAYS_FOR_RHYTHM, TEAM_GAP_DAYS)


def _p_return(
    purchases: PurchaseDays, returns: ReturnModel | None, today: dt.date, index: pd.Index
) -> NDArray[np.float64]:
    if returns is None:
        return np.full(len(index), np.nan, dtype=np.float64)
    return np.asarray(aligned(p_return(returns, purchases, today), index), dtype=np.float64)
