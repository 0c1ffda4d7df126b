"""``crm-bot team``: who uses crm-bot, in which role, and when they get the digest."""

from __future__ import annotations

import click

from bot.cli.app import CliContext, pass_context
from crm_core.access.policy import permissions_table
from crm_core.config import ROLES
from crm_core.store import transaction
from crm_core.team.service import WEEKDAY_SETS, add_member, get_member, list_members, remove_member


@click.group()
def team() -> None:
    """Add, list and remove team members, and set their roles."""


@team.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--tz", "timezone", help="IANA time zone; default: the person's Slack profile.")
@click.option("--locale", help="en-US or ja-JP; default: the person's Slack profile.")
@click.option("--digest-time", help="Local time of the daily digest, HH:MM (default 09:00).")
@click.option("--digest-days", type=click.Choice(tuple(WEEKDAY_SETS)), help="Default mon-fri.")
@pass_context
def team_add(
    context: CliContext,
    user_id: str,
    role: str,
    timezone: str | None,
    locale: str | None,
    digest_time: str | None,
    digest_days: str | None,
) -> None:
    """Add USER_ID (a Slack user id) to the team, or change their settings."""
    with transaction(context.engine()) as session:
        member = add_member(
            session,
            actor=context.actor,
            user_id=user_id,
            role=role,
            timezone=timezone,
            locale=locale,
            digest_time=digest_time,
            digest_weekdays=digest_days,
        )
    click.echo(f"{member.slack_user_id} is {member.role}; digest at {member.digest_time:%H:%M}")


@team.command("set-role")
@click.argument("user_id")
@click.argument("role", type=click.Choice(ROLES))
@pass_context
def team_set_role(context: CliContext, user_id: str, role: str) -> None:
    """Give USER_ID the role ROLE (`crm-bot team roles` shows what each may do); adds them if new."""
    with transaction(context.engine()) as session:
        before = get_member(session, user_id.strip())
        member = add_member(session, actor=context.actor, user_id=user_id, role=role)
    was = f"was {before.role}" if before else "new to the team"
    click.echo(f"{member.slack_user_id} is {member.role} ({was})")


@team.command("roles")
def team_roles() -> None:
    """Print what each role may see and do, as a Markdown table."""
    click.echo(permissions_table())


@team.command("list")
@pass_context
def team_list(context: CliContext) -> None:
    """List team members with role, time zone, locale and digest time."""
    with transaction(context.engine()) as session:
        members = list_members(session)
    if not members:
        click.echo("no team members yet: add one with `crm-bot team add USER_ID --role manager`")
    for m in members:
        click.echo(
            f"{m.slack_user_id}\t{m.role}\t{m.timezone or '(from Slack)'}\t{m.locale or '(from Slack)'}\t"
            f"{m.digest_time:%H:%M}" + ("" if m.digest_enabled else " (digest off)")
        )


@team.command("remove")
@click.argument("user_id")
@pass_context
def team_remove(context: CliContext, user_id: str) -> None:
    """Remove USER_ID from the team."""
    with transaction(context.engine()) as session:
        remove_member(session, actor=context.actor, user_id=user_id)
    click.echo(f"removed {user_id}")
