"""``crm-bot privacy``: answering a customer's request to see, or to erase, what is held about them."""

from __future__ import annotations

import json

import click
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.cli.app import CliContext, pass_context
from bot.slack_api.web_api import make_web_client
from crm_core.privacy.mentions import REDACTED
from crm_core.privacy.posted import Posted, forget_posted
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
@click.option(
    "--delete-slack-messages",
    is_flag=True,
    help="Also delete the bot's own Slack messages that named them (needs SLACK_BOT_TOKEN).",
)
@pass_context
def privacy_erase(context: CliContext, customer: str, yes: bool, delete_slack_messages: bool) -> None:
    """Erase the personal data of CUSTOMER (external id or exact e-mail), keeping anonymous aggregates.

    \b
    Removed: name (a placeholder remains), e-mail, phone, company, tags, custom fields, interaction
    texts and Slack thread links, follow-up notes (open follow-ups are cancelled), and mentions of
    the person by name, e-mail or phone in other customers' interactions and notes ([erased]).
    Kept: purchase amounts and dates, interaction kinds and dates, the audit trail (ids only).
    Then the store is compacted so the old data cannot be read back from its files.
    Listed: the bot's own Slack messages that named them (thread confirmations, shared cards,
    digests), with links; --delete-slack-messages deletes them. What people wrote in Slack
    themselves is theirs and is not touched.
    """
    if not yes:
        raise click.ClickException(
            f"erasing {customer}'s personal data cannot be undone: add --yes to go ahead "
            f"(`crm-bot privacy export {customer}` first keeps a copy for the customer)"
        )
    client = make_web_client(context.settings) if context.settings.slack_bot_token else None
    if delete_slack_messages and client is None:
        raise click.ClickException(
            "--delete-slack-messages needs SLACK_BOT_TOKEN (the bot's token) to reach Slack: "
            "set it and run again; nothing was erased"
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
            f"{erasure.mentions.interactions} interactions and {erasure.mentions.follow_ups} follow-up "
            f"notes of other customers named them and now say {REDACTED}; "
            f"{erasure.purchases_kept} purchases kept as anonymous aggregates"
        )
    scrub = scrub_store(engine)
    if scrub.advice:
        click.echo(f"note: {scrub.advice}", err=True)
    if delete_slack_messages and client is not None:
        _delete_posted(engine, client, erasure.posted)
    else:
        _list_posted(client, erasure.posted)


def _list_posted(client: WebClient | None, posted: tuple[Posted, ...]) -> None:
    if not posted:
        click.echo("the bot posted no Slack message that named them")
        return
    click.echo(
        f"the bot's own Slack messages that named them ({len(posted)}; --delete-slack-messages deletes them):"
    )
    for message in posted:
        click.echo(f"  {message.kind} {message.posted_at:%Y-%m-%d}: {_where(client, message)}")
    if client is None:
        click.echo("note: without SLACK_BOT_TOKEN these are shown as channel and ts, not links", err=True)


def _delete_posted(engine: Engine, client: WebClient, posted: tuple[Posted, ...]) -> None:
    """``chat.delete`` each message; one already gone counts as deleted. The records of deleted
    messages are dropped, so a repeated erase lists only what is left."""
    failed: list[str] = []
    for message in posted:
        try:
            client.chat_delete(channel=message.channel_id, ts=message.ts)
        except SlackApiError as error:
            code = str(error.response.get("error", "slack_error"))
            if code != "message_not_found":
                failed.append(f"{_where(client, message)} ({code})")
                continue
        with transaction(engine) as session:
            forget_posted(session, channel_id=message.channel_id, ts=message.ts)
    click.echo(f"deleted {len(posted) - len(failed)} of the bot's Slack messages that named them")
    if failed:
        raise click.ClickException(
            f"{len(failed)} could not be deleted: {'; '.join(failed)}; "
            "the same erase with --delete-slack-messages tries them again"
        )


def _where(client: WebClient | None, message: Posted) -> str:
    """The message's permalink, or its channel and ts when Slack cannot say (no token, gone)."""
    if client is not None:
        try:
            return str(
                client.chat_getPermalink(channel=message.channel_id, message_ts=message.ts)["permalink"]
            )
        except SlackApiError:
            pass
    return f"channel {message.channel_id}, ts {message.ts}"
