"""``crm-bot db``: schema management. Alembic is the only maker of schema."""

from __future__ import annotations

import click

from bot.cli.app import CliContext, pass_context
from crm_core.store import current_revision, head_revision, upgrade


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: CliContext) -> None:
    """Apply every pending migration to DATABASE_URL."""
    engine = context.engine(check_schema=False)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        click.echo(f"schema already up to date ({after})")
    else:
        click.echo(f"schema upgraded from {before or 'empty'} to {after}")


@db.command("status")
@pass_context
def db_status(context: CliContext) -> None:
    """Show the schema revision of the store and the one this crm-bot needs."""
    current = current_revision(context.engine(check_schema=False))
    click.echo(f"database: {current or 'empty'}; needed: {head_revision()}")
