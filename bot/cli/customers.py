"""``crm-bot find`` and ``crm-bot customers``: looking customers up and keeping one record per person."""

from __future__ import annotations

import shlex

import click

from bot.blocks.as_text import mrkdwn_to_text
from bot.cli.app import CliContext, pass_context
from bot.messages import DEFAULT_LANGUAGE, t
from crm_core.customers.service import create_customer, merge_customers
from crm_core.identity.search import contact_query, find_customers
from crm_core.store import MERGEABLE_REVISIONS, transaction
from crm_core.text import searchable


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True, help="Show at most this many matches.")
@pass_context
def find(context: CliContext, query: tuple[str, ...], limit: int) -> None:
    """Find customers by name, e-mail, phone or external id, best match first."""
    text = " ".join(query)
    with transaction(context.engine()) as session:
        matches = find_customers(session, actor=context.actor, query=text, limit=limit)
    if not matches:
        click.echo(_no_match(text))
        return
    for match in matches:
        click.echo(
            f"{match.customer.external_id}\t{match.customer.name}\t{match.score:.0f}\t{match.matched_on}"
        )


def _no_match(text: str) -> str:
    """Nobody matches: an e-mail or phone number matched nobody exactly, so say how to add them."""
    contact = contact_query(searchable(text))
    if contact is None:
        return f"no customer matches {text!r}"
    return mrkdwn_to_text(
        t(DEFAULT_LANGUAGE, f"find.no_{contact.kind}_match", query=text, quoted=shlex.quote(text))
    )


@click.group()
def customers() -> None:
    """Create and merge customer records."""


@customers.command("add")
@click.argument("name")
@click.option("--email")
@click.option("--phone")
@click.option("--company")
@click.option("--owner", "owner_id", help="Slack user id of the owner.")
@click.option("--external-id")
@pass_context
def customers_add(
    context: CliContext,
    name: str,
    email: str | None,
    phone: str | None,
    company: str | None,
    owner_id: str | None,
    external_id: str | None,
) -> None:
    """Add a customer (refused when the e-mail or phone already belongs to one)."""
    with transaction(context.engine()) as session:
        created = create_customer(
            session,
            actor=context.actor,
            name=name,
            email=email,
            phone=phone,
            company=company,
            owner_id=owner_id,
            external_id=external_id,
        )
    click.echo(f"created {created.customer.external_id}\t{created.customer.name}")
    for other in created.likely_duplicates:
        click.echo(
            f"warning: looks like {other.external_id}\t{other.name}; merge with "
            f"`crm-bot customers merge {other.external_id} {created.customer.external_id}`",
            err=True,
        )


@customers.command("merge")
@click.argument("keep")
@click.argument("other")
@pass_context
def customers_merge(context: CliContext, keep: str, other: str) -> None:
    """Merge customer OTHER into KEEP (by external id); OTHER's history moves to KEEP."""
    # Also on the schema before unique contact keys, whose upgrade waits for these merges.
    with transaction(context.engine(also_accept=MERGEABLE_REVISIONS)) as session:
        result = merge_customers(session, actor=context.actor, keep=keep, other=other)
    click.echo(
        f"merged {result.removed_external_id} into {result.kept.external_id}: "
        f"{result.interactions_moved} interactions, {result.purchases_moved} purchases, "
        f"{result.follow_ups_moved} follow-ups moved"
    )
