"""``crm-bot audit``: the audit trail, one event per line, for admins answering "who saw this customer?"."""

from __future__ import annotations

import datetime as dt

import click

from bot.cli.app import CliContext, pass_context
from crm_core.read_models.audit_trail import AuditEntry, audit_events
from crm_core.store import transaction


@click.command("audit")
@click.option("--customer", "customer_external_id", metavar="ID", help="Only events about this customer.")
@click.option("--user", "user_id", metavar="U", help="Only events by this Slack user id (or cli:<login>).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only from this UTC day on.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@pass_context
def audit_command(
    context: CliContext,
    customer_external_id: str | None,
    user_id: str | None,
    since: dt.datetime | None,
    limit: int,
) -> None:
    """The latest audit events, oldest first: time (UTC), actor, surface, action, customer, allowed.

    A refused attempt shows as "refused"; events about no customer show "-".
    """
    with transaction(context.engine()) as session:
        entries = audit_events(
            session,
            actor=context.actor,
            customer_external_id=customer_external_id,
            user_id=user_id,
            since=since.date() if since else None,
            limit=limit,
        )
    if not entries:
        click.echo("no audit events match", err=True)
    for entry in entries:
        click.echo(_line(entry))


def _line(entry: AuditEntry) -> str:
    customer = entry.customer_external_id or (f"#{entry.customer_id}" if entry.customer_id else "-")
    allowed = "allowed" if entry.allowed else "refused"
    time = entry.occurred_at.isoformat(sep=" ", timespec="seconds")
    return "\t".join((time, entry.actor, entry.surface, entry.action, customer, allowed))
