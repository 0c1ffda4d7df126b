"""``crm-bot console``: try the product in a terminal, no Slack workspace needed (``bot.console``)."""

from __future__ import annotations

import contextlib
import logging
import sys

import click
from sqlalchemy import Engine

from bot.blocks.as_text import mrkdwn_to_text
from bot.cli.app import CliContext
from bot.cli.demo import demo_data
from bot.console.local_app import LocalSlack
from bot.console.terminal import LOCALES, USER, Console, Terminal
from bot.messages import t
from crm_core.demo.loader import customer_count
from crm_core.demo.vocabulary import SALES_OWNERS
from crm_core.store import transaction


@click.command()
@click.option(
    "--lang",
    "language",
    type=click.Choice(sorted(LOCALES)),
    default="en",
    show_default=True,
    help="Your language: the app answers you in it, as it would by your Slack locale.",
)
@click.option(
    "--user",
    default=USER,
    show_default=True,
    help=f"Act as this Slack user id; the sample data's sales reps are {', '.join(SALES_OWNERS)}.",
)
@click.option(
    "--demo", is_flag=True, help="Load the sample data first if the store is empty, without asking."
)
@click.pass_context
def console(ctx: click.Context, language: str, user: str, demo: bool) -> None:
    """Type /crm commands, press buttons by their number and fill in forms, as in Slack.

    The real app answers, through a local stand-in for Slack, on the store in DATABASE_URL (by default
    ./crm.sqlite3). `home` shows your App Home tab; `exit` quits. Reads a pipe too, one answer per
    line: printf '/crm help\\n/crm find acme\\n' | crm-bot console
    """
    context: CliContext = ctx.obj
    engine = context.engine()
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for what is typed)
    _offer_sample_data(ctx, engine, language, demo=demo, interactive=interactive)
    # Waitress warns when a request waits for a thread; the console sends one at a time, so it is noise.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with LocalSlack(context.settings, engine, user=user, locale=LOCALES[language]) as slack:
        click.echo(mrkdwn_to_text(t(language, "console.welcome", user=f"@{user}")), err=True)
        Console(slack, Terminal(sys.stdin, sys.stdout, interactive=interactive), language=language).run()


def _offer_sample_data(
    ctx: click.Context, engine: Engine, language: str, *, demo: bool, interactive: bool
) -> None:
    """An empty store gets the sample data when asked for (``--demo``, or yes on a terminal); on a pipe
    nothing is asked, so a script's lines are never taken for an answer: a note says how instead."""
    with transaction(engine) as session:
        if customer_count(session):
            return
    question = mrkdwn_to_text(t(language, "console.store_empty"))
    if demo or (interactive and click.confirm(question, default=False, err=True)):
        ctx.invoke(demo_data)
    elif not interactive:
        click.echo(mrkdwn_to_text(t(language, "console.store_empty_note")), err=True)
