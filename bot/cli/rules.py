"""``crm-bot rules``: follow-ups created automatically after purchases and interactions."""

from __future__ import annotations

import re

import click

from bot.cli.app import CliContext, pass_context
from crm_core.errors import InvalidInput
from crm_core.rules.service import add_rule, list_rules, remove_rule
from crm_core.store import transaction


def parse_delay(text: str) -> int:
    """``3``, ``3d`` or ``2w`` as a number of days."""
    match = re.fullmatch(r"(\d{1,3})\s*([dw]?)", text.strip().lower())
    if not match:
        raise InvalidInput(f"delay {text!r} must look like 3d or 2w")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


@click.group()
def rules() -> None:
    """List, add and remove follow-up rules."""


@rules.command("list")
@pass_context
def rules_list(context: CliContext) -> None:
    """Show the rules, one per line."""
    with transaction(context.engine()) as session:
        found = list_rules(session)
    if not found:
        click.echo(
            "no rules yet: e.g. `crm-bot rules add --on first_purchase --after 3d --note 'Thank you call'`"
        )
    for rule in found:
        click.echo(f"{rule.id}\t{rule.describe()}\t{rule.note}")


@rules.command("add")
@click.option("--on", "trigger", required=True, help="first_purchase, purchase or interaction:<kind>.")
@click.option("--after", "delay", required=True, help="How long after the event: 3d, 2w.")
@click.option("--note", default="", help="What the follow-up should say.")
@pass_context
def rules_add(context: CliContext, trigger: str, delay: str, note: str) -> None:
    """Add a rule; it applies to events from now on."""
    with transaction(context.engine()) as session:
        rule = add_rule(
            session, actor=context.actor, trigger=trigger, delay_days=parse_delay(delay), note=note
        )
    click.echo(f"added rule {rule.id}: {rule.describe()}")


@rules.command("remove")
@click.argument("rule_id", type=int)
@pass_context
def rules_remove(context: CliContext, rule_id: int) -> None:
    """Remove a rule (follow-ups it created stay)."""
    with transaction(context.engine()) as session:
        remove_rule(session, actor=context.actor, rule_id=rule_id)
    click.echo(f"removed rule {rule_id}")
