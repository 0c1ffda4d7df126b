"""``crm-bot demo-data``: realistic sample data, so the product can be tried before real data exists."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace
from zoneinfo import ZoneInfo

import click

from bot.cli.app import CliContext, pass_context
from bot.cli.io import EXIT_ROWS_REJECTED
from crm_core.demo.generator import generate_demo_data
from crm_core.demo.loader import customer_count, write_demo_data
from crm_core.store import transaction

MAX_DEMO_CUSTOMERS = 100_000


@click.command("demo-data")
@click.option(
    "--customers",
    type=click.IntRange(1, MAX_DEMO_CUSTOMERS),
    default=300,
    show_default=True,
    help="How many customers to make.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed makes the same data.")
@click.option("--force", is_flag=True, help="Add the sample data even though the store has customers.")
@pass_context
def demo_data(context: CliContext, customers: int, seed: int, force: bool) -> None:
    """Fill the store with sample data: customers with Japanese and English names, two years of
    purchases, interactions and open follow-ups (some overdue).

    The same --seed gives the same data; dates are relative to today. A store that already has
    customers is refused unless --force, so real data never gets mixed with made-up data by accident;
    with --force the sample goes through the normal import rules, and running it again with the same
    seed changes nothing.
    """
    now = dt.datetime.now(ZoneInfo(context.settings.timezone))
    data = generate_demo_data(customers=customers, seed=seed, today=now.date())
    with transaction(context.engine()) as session:
        existing = customer_count(session)
        if existing and not force:
            raise click.ClickException(
                f"the store already has {existing} customers; demo data is meant for an empty store "
                "(add --force to add it anyway)"
            )
        report = write_demo_data(session, data=data, actor=replace(context.actor, surface="import"), now=now)
    for entity_report in report.imports:
        for rejection in entity_report.rejections:
            click.echo(f"{entity_report.entity} {rejection}", err=True)
    added = ", ".join(f"{r.new} {r.entity}" for r in report.imports)
    click.echo(f"added {added} and {report.follow_ups} open follow-ups (seed {seed})")
    if any(r.rejected for r in report.imports):
        sys.exit(EXIT_ROWS_REJECTED)
