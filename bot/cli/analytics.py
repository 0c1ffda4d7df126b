"""``crm-bot analytics``: the fitted churn model, every customer's scores, and how right they were."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys

import click
import pandas as pd

from bot.blocks.churn import churn_reason_text
from bot.cli.app import CliContext, pass_context
from bot.cli.dates import date_option, resolve_date
from bot.messages import DEFAULT_LANGUAGE
from crm_core.analytics.backtest import Backtest, backtest
from crm_core.analytics.history import ContactDays, PurchaseDays
from crm_core.analytics.load import StoreFrames, load_frames
from crm_core.analytics.reasons import STORED_FACTS, churn_reasons
from crm_core.analytics.returning import HORIZON_DAYS
from crm_core.analytics.scores import ScoringFits, score_customers
from crm_core.analytics.scoring import ScoringRun, score_now
from crm_core.audit.service import record
from crm_core.store import transaction

SCORE_CSV_COLUMNS = (
    "external_id",
    "name",
    "owner_id",
    "p_return_90d",
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
    frames = _load(context, action, {})
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


def _load(
    context: CliContext, action: str, detail: dict[str, object], *, everything: bool = True
) -> StoreFrames:
    """The store's frames; only what the backtest reads unless ``everything`` (see ``load_frames``)."""
    with transaction(context.engine()) as session:
        frames = load_frames(session, names=everything, contacts=everything)
        record(
            session, actor=context.actor, action=action, detail={"customers": len(frames.customers), **detail}
        )
    return frames


@analytics.command("fit")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the fit as JSON (params null when too few bought)."
)
@date_option("Fit on the history up to this day (YYYY-MM-DD); default today.")
@pass_context
def analytics_fit(context: CliContext, as_json: bool, on_date: dt.datetime | None) -> None:
    """The BG/NBD model fitted to every customer's purchases, as text or (--json) for scripts."""
    today, frames, _scores, fits = _score(context, on_date, "analytics.fit")
    customers = len(frames.customers)
    if as_json:
        click.echo(json.dumps(fit_document(today, customers, fits), indent=2))
    else:
        click.echo(fit_text(today, customers, fits))


def fit_text(today: dt.date, customers: int, fits: ScoringFits) -> str:
    """The fit as a person reads it in a terminal."""
    bgnbd, spend = fits.bgnbd, fits.spend
    if bgnbd is None:
        return (
            f"Churn model (BG/NBD) as of {today.isoformat()}: not fitted, the purchases of the "
            f"{customers:,} customers are too few to fit it."
        )
    params = bgnbd.params
    lines = [
        f"Churn model (BG/NBD) as of {today.isoformat()}, fitted on the purchases of "
        f"{bgnbd.customers:,} of {customers:,} customers (time unit: days)",
        f"  r {params.r:.4g}  alpha {params.alpha:.4g}  a {params.a:.4g}  b {params.b:.4g}",
        f"  log-likelihood {bgnbd.log_likelihood:.4g}" + ("" if bgnbd.converged else " (did NOT converge)"),
        "  spend (Gamma-Gamma): "
        + (
            "too few repeat buyers" if spend is None else f"p {spend.p:.4g}  q {spend.q:.4g}  v {spend.v:.4g}"
        ),
    ]
    return "\n".join(lines)


@analytics.command("scores")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to stdout (the only format, and the default).")
@date_option("Score as of this day (YYYY-MM-DD); default today.")
@pass_context
def analytics_scores(context: CliContext, as_csv: bool, on_date: dt.datetime | None) -> None:
    """One CSV row per customer: chance of buying again in 90 days, P(alive), expected purchases, RFM,
    segment, VIP, churn risk and why (in English, with purchase facts)."""
    _today, frames, scores, _fits = _score(context, on_date, "analytics.scores")
    table = frames.customers.set_index("customer_id").join(scores)
    table["reason"] = [
        churn_reason_text(churn_reasons(row).with_purchases, DEFAULT_LANGUAGE)
        for row in table[list(STORED_FACTS)].to_dict("records")
    ]
    table[list(SCORE_CSV_COLUMNS)].to_csv(sys.stdout, index=False, float_format="%.4f")


def keep_todays_scores(context: CliContext) -> ScoringRun:
    """Score every customer as of today (CRM_TIMEZONE) and keep the scores, in one transaction."""
    today = resolve_date(None, context.settings.timezone)
    with transaction(context.engine()) as session:
        run = score_now(session, today=today)
        record(session, actor=context.actor, action="analytics.score", detail={"customers": run.customers})
    return run


def scores_kept_line(run: ScoringRun) -> str:
    plural = "" if run.customers == 1 else "s"
    return f"scores as of {run.scored_on.isoformat()} kept for {run.customers:,} customer{plural}"


@analytics.command("score")
@pass_context
def analytics_score(context: CliContext) -> None:
    """Score every customer as of today and keep the scores for profile cards (segment, churn risk).

    The scheduler of `crm-bot run` / `serve` does this once a day, and every import of purchases or
    interactions after it; run it by hand after changing data some other way.
    """
    click.echo(scores_kept_line(keep_todays_scores(context)))


@analytics.command("backtest")
@click.option(
    "--date",
    "on_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Score as of the end of this day (YYYY-MM-DD), with only what was known then.",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1, max=730),
    default=HORIZON_DAYS,
    show_default=True,
    help="Days after --date in which a purchase counts as a return.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def analytics_backtest(context: CliContext, on_date: dt.datetime, horizon: int, as_json: bool) -> None:
    """How right the churn scores were: scored as of --date, compared with who bought in the horizon."""
    date = on_date.date()
    today = resolve_date(None, context.settings.timezone)
    end = date + dt.timedelta(days=horizon)
    if end > today:
        raise click.UsageError(
            f"the horizon ends on {end.isoformat()}, after today ({today.isoformat()}): "
            f"choose a --date at least {horizon} days ago"
        )
    frames = _load(
        context, "analytics.backtest", {"date": date.isoformat(), "horizon": horizon}, everything=False
    )
    report = backtest(
        frames.customers,
        PurchaseDays.from_purchases(frames.purchases),
        ContactDays.from_interactions(frames.interactions),
        date=date,
        horizon_days=horizon,
    )
    if report is None:
        raise click.ClickException(
            f"too few customers had bought twice by {date.isoformat()} to fit the churn model: "
            "choose a later --date"
        )
    if as_json:
        document = dataclasses.asdict(report) | {
            "date": date.isoformat(),
            "levels_ordered": report.levels_ordered,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(backtest_text(report))


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def backtest_text(report: Backtest) -> str:
    """The report as a person reads it in a terminal."""
    auc = "–" if report.auc is None else f"{report.auc:.3f}"
    lines = [
        f"Churn scores as of {report.date.isoformat()}, judged on the next {report.horizon_days} days"
        + ("" if report.calibrated else " (too little earlier history to calibrate)"),
        f"  customers who had bought: {report.customers:,}; bought again: {report.returned:,} "
        f"({_rate(report.base_rate)})",
        f"  AUC of p_return_90d: {auc} (0.5 = chance, 1 = perfect ranking)",
        f"  Brier score: {report.brier:.4f} (predicting {_rate(report.base_rate)} for everyone: "
        f"{report.base_rate_brier:.4f}; lower is better)",
        "  bought again, by level:",
        *(
            f"    {level.level:<8} {level.customers:>9,} customers  {_rate(level.returned_rate):>6}"
            for level in report.levels
        ),
        "    "
        + ("strictly fewer at each step" if report.levels_ordered else "NOT strictly fewer at each step"),
        f"  at-risk list: {report.at_risk_list.customers:,} customers ({_rate(report.at_risk_list.share)}); "
        f"precision {_rate(report.at_risk_list.precision)} did not buy, "
        f"recall {_rate(report.at_risk_list.recall)} of those not churned who did not buy",
        "  reliability (tenths by predicted chance): predicted → bought again",
        *(
            f"    {row.decile:>2}  {row.customers:>9,}  {row.mean_predicted:6.1%} → {row.returned_rate:6.1%}"
            for row in report.reliability
        ),
    ]
    return "\n".join(lines)
