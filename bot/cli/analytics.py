"""``crm-bot analytics``: the fitted churn model and every customer's scores, for people and scripts."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
import pandas as pd

from bot.cli.app import CliContext, pass_context
from bot.cli.dates import date_option, resolve_date
from crm_core.analytics.load import StoreFrames, load_frames
from crm_core.analytics.scores import ScoringFits, score_customers
from crm_core.audit.service import record
from crm_core.store import transaction

SCORE_CSV_COLUMNS = (
    "external_id",
    "name",
    "owner_id",
    "p_alive",
    "expected_purchases_90d",
    "rfm_score",
    "segment",
    "vip",
    "churn_risk",
    "reason",
    "next_step",
    "historical_revenue",
    "predicted_value_90d",
)


@click.group()
def analytics() -> None:
    """Churn model parameters and per-customer scores."""


def _score(
    context: CliContext, on_date: dt.datetime | None, action: str
) -> tuple[dt.date, StoreFrames, pd.DataFrame, ScoringFits]:
    today = resolve_date(on_date, context.settings.timezone)
    with transaction(context.engine()) as session:
        frames = load_frames(session)
        record(session, actor=context.actor, action=action, detail={"customers": len(frames.customers)})
    scores, fits = score_customers(frames.customers, frames.purchases, frames.interactions, today)
    return today, frames, scores, fits


def fit_document(today: dt.date, customers: int, fits: ScoringFits) -> dict[str, object]:
    bgnbd = fits.bgnbd
    spend = fits.spend
    return {
        "model": "bg/nbd",
        "date": today.isoformat(),
        "params": None
        if bgnbd is None
        else {"r": bgnbd.params.r, "alpha": bgnbd.params.alpha, "a": bgnbd.params.a, "b": bgnbd.params.b},
        "time_unit": "days",
        "customers": customers,
        "fitted_on": 0 if bgnbd is None else bgnbd.customers,
        "log_likelihood": None if bgnbd is None else bgnbd.log_likelihood,
        "converged": None if bgnbd is None else bgnbd.converged,
        "gamma_gamma": None if spend is None else {"p": spend.p, "q": spend.q, "v": spend.v},
    }


@analytics.command("fit")
@click.option("--json", "as_json", is_flag=True, required=True, help="Print the fit as JSON.")
@date_option("Fit on the history up to this day (YYYY-MM-DD); default today.")
@pass_context
def analytics_fit(context: CliContext, as_json: bool, on_date: dt.datetime | None) -> None:
    """The BG/NBD model fitted to every customer's purchases (params null when too few bought)."""
    today, frames, _scores, fits = _score(context, on_date, "analytics.fit")
    click.echo(json.dumps(fit_document(today, len(frames.customers), fits), indent=2))


@analytics.command("scores")
@click.option("--csv", "as_csv", is_flag=True, required=True, help="Write CSV to stdout.")
@date_option("Score as of this day (YYYY-MM-DD); default today.")
@pass_context
def analytics_scores(context: CliContext, as_csv: bool, on_date: dt.datetime | None) -> None:
    """One CSV row per customer: P(alive), expected purchases, RFM, segment, VIP, churn risk and why."""
    _today, frames, scores, _fits = _score(context, on_date, "analytics.scores")
    table = frames.customers.set_index("customer_id").join(scores)
    table[list(SCORE_CSV_COLUMNS)].to_csv(sys.stdout, index=False, float_format="%.4f")
