"""``crm-bot privacy``: answering a customer's request to see, or to erase, what is held about them."""

from __future__ import annotations

import json

import click

from bot.cli.app import CliContext, pass_context
from crm_core.privacy.scrub import scrub_store
from crm_core.privacy.service import erase_customer, export_customer_data
from crm_core.store import transaction


@click.group()
def privacy() -> None:
    """Export or erase one customer's personal data, on their request."""


@privacy.command("export")
@click.argument("customer")
@pass_context
def privacy_export(context: CliContext, customer: str) -> None:
    """Print everything held about CUSTOMER (external id or exact e-mail) as JSON."""
    with transaction(context.engine()) as session:
        document = export_customer_data(session, actor=context.actor, query=customer)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@privacy.command("erase")
@click.argument("customer")
@click.option("--yes", is_flag=True, help="Confirm: erasing cannot be undone.")
@pass_context
def privacy_erase(context: CliContext, customer: str, yes: bool) -> None:
    """Erase the personal data of CUSTOMER (external id or exact e-mail), keeping anonymous aggregates.

    \b
    Removed: name (a placeholder remains), e-mail, phone, company, tags, custom fields, interaction
    texts and Slack thread links, follow-up notes (open follow-ups are cancelled).
    Kept: purchase amounts and dates, interaction kinds and dates, the audit trail (ids only).
    Then the store is compacted so the old data cannot be read back from its files.
    """
    if not yes:
        raise click.ClickException(
            f"erasing {customer}'s personal data cannot be undone: add --yes to go ahead "
            f"(`crm-bot privacy export {customer}` first keeps a copy for the customer)"
        )
    engine = context.engine()
    with transaction(engine) as session:
        erasure = erase_customer(session, actor=context.actor, query=customer)
    if erasure.already_erased:
        click.echo(
            f"{erasure.external_id} was already erased on {erasure.erased_at:%Y-%m-%d}; nothing changed"
        )
    else:
        click.echo(
            f"erased {erasure.external_id}: name, contact details, tags, custom fields, "
            f"{erasure.interactions} interaction texts and {erasure.follow_ups} follow-up notes; "
            f"{erasure.purchases_kept} purchases kept as anonymous aggregates"
        )
    scrub = scrub_store(engine)
    if scrub.advice:
        click.echo(f"note: {scrub.advice}", err=True)
