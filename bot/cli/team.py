"""``crm-bot team``: who uses crm-bot, in which role, and when they get the digest.

Giving someone a role (``add``, ``set-role``) first asks Slack who the id is, when a bot token is
configured: a typo must not make an admin of nobody (or of whoever gets that id later). Unknown ids,
deactivated accounts, bots, guests and people of another organisation are refused with one line;
``--offline`` skips the question, for a server that cannot reach Slack, and says that it did.
"""

from __future__ import annotations

import click
from slack_sdk.errors import SlackApiError

from bot.cli.app import CliContext, pass_context
from bot.request.people import SLACK_FAILURES, SlackProfile, Workspace, ask_slack, slack_failure
from bot.slack_api.web_api import make_web_client
from crm_core.access.policy import permissions_table
from crm_core.config import ROLES
from crm_core.store import transaction
from crm_core.team.service import WEEKDAY_SETS, add_member, get_member, list_members, remove_member

OFFLINE = click.option(
    "--offline", is_flag=True, help="Do not ask Slack whether USER_ID is a member of the workspace."
)


def _check_with_slack(context: CliContext, user_id: str, *, offline: bool) -> str | None:
    """Refuse (ClickException) an id Slack does not know as a full member of this organisation.

    Returns what to tell the admin when nothing was checked, to print once the role is set.
    """
    user_id = user_id.strip()
    if offline:
        return f"{user_id} was not checked with Slack (--offline): make sure it is the person you mean"
    if not context.settings.slack_bot_token:
        return f"{user_id} was not checked with Slack: SLACK_BOT_TOKEN is not set"
    client = make_web_client(context.settings)
    try:
        installed = client.auth_test()
        profile = ask_slack(client, user_id)
    except SlackApiError as error:
        if error.response.get("error") == "user_not_found":
            raise click.ClickException(
                f"Slack has no user {user_id}: check the id (it is in their Slack profile, "
                "under ⋮ → Copy member ID); no role was given"
            ) from None
        raise _could_not_ask(user_id, error) from None
    except SLACK_FAILURES as error:
        raise _could_not_ask(user_id, error) from None
    refusal = _refusal(profile, Workspace(installed.get("team_id"), installed.get("enterprise_id")))
    if refusal:
        raise click.ClickException(f"{user_id} {refusal}; no role was given")
    return None


def _refusal(profile: SlackProfile, workspace: Workspace) -> str | None:
    """Why this person may not be given a role, or None for a full member of the organisation."""
    if profile.deleted:
        return "is a deactivated Slack account"
    if profile.is_bot:
        return "is a bot, not a person"
    if profile.is_guest:
        return "is a guest of the workspace, and guests cannot use crm-bot"
    if not workspace.is_home_of(profile.team_id, profile.enterprise_id):
        return "belongs to another organisation (a Slack Connect member)"
    return None


def _could_not_ask(user_id: str, error: Exception) -> click.ClickException:
    return click.ClickException(
        f"could not check {user_id} with Slack ({slack_failure(error)}); try again, "
        "or add --offline to give the role without asking Slack"
    )


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
@OFFLINE
@pass_context
def team_add(
    context: CliContext,
    user_id: str,
    role: str,
    timezone: str | None,
    locale: str | None,
    digest_time: str | None,
    digest_days: str | None,
    offline: bool,
) -> None:
    """Add USER_ID (a Slack user id) to the team, or change their settings."""
    unchecked = _check_with_slack(context, user_id, offline=offline)
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
    if unchecked:
        click.echo(unchecked, err=True)


@team.command("set-role")
@click.argument("user_id")
@click.argument("role", type=click.Choice(ROLES))
@OFFLINE
@pass_context
def team_set_role(context: CliContext, user_id: str, role: str, offline: bool) -> None:
    """Give USER_ID the role ROLE (`crm-bot team roles` shows what each may do); adds them if new."""
    unchecked = _check_with_slack(context, user_id, offline=offline)
    with transaction(context.engine()) as session:
        before = get_member(session, user_id.strip())
        member = add_member(session, actor=context.actor, user_id=user_id, role=role)
    was = f"was {before.role}" if before else "new to the team"
    click.echo(f"{member.slack_user_id} is {member.role} ({was})")
    if unchecked:
        click.echo(unchecked, err=True)


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
