"""``crm-bot digest``: see a digest without Slack, or send the day's digests now."""

from __future__ import annotations

import dataclasses
import datetime as dt

import click
from sqlalchemy.orm import Session

from bot.blocks.as_text import blocks_to_text
from bot.blocks.digest import render_digest
from bot.cli.app import CliContext, pass_context
from bot.cli.dates import date_option, resolve_date
from bot.jobs.digests import DigestSender, worker_name
from bot.messages import language_of
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from crm_core.access.resolve import role_of
from crm_core.digest.content import digest_for, take_snapshot
from crm_core.errors import InvalidInput, NotFound
from crm_core.store import transaction
from crm_core.team.service import MemberView, get_member

# Who --print shows when no --user is given: the team view, as a manager sees it.
TEAM_VIEW = MemberView(
    slack_user_id="(team)",
    role="manager",
    timezone=None,
    locale=None,
    slack_timezone=None,
    slack_locale=None,
    digest_enabled=True,
    digest_time=dt.time(9),
    digest_weekdays=(0, 1, 2, 3, 4),
)


@click.command()
@click.option("--print", "print_", is_flag=True, help="Print the digest as plain text; no Slack needed.")
@click.option("--send", is_flag=True, help="Send every digest of the date that has not been delivered.")
@click.option(
    "--user", "user_id", help="With --print: the digest this team member gets (default: team view)."
)
@click.option(
    "--lang", type=click.Choice(("en", "ja")), help="With --print: language (default: the member's)."
)
@date_option("The digest of this day (YYYY-MM-DD); default today in CRM_TIMEZONE.")
@pass_context
def digest(
    context: CliContext,
    print_: bool,
    send: bool,
    user_id: str | None,
    lang: str | None,
    on_date: dt.datetime | None,
) -> None:
    """Print a digest (--print) or send the day's digests now (--send)."""
    if print_ == send:
        raise InvalidInput("say --print to see a digest or --send to send the day's digests")
    local_date = resolve_date(on_date, context.settings.timezone)
    if print_:
        _print(context, local_date, user_id, lang)
    else:
        _send(context, local_date)


def _print(context: CliContext, local_date: dt.date, user_id: str | None, lang: str | None) -> None:
    with transaction(context.engine()) as session:
        member = _member_or_newcomer(context, session, user_id) if user_id else TEAM_VIEW
        snapshot = take_snapshot(session, local_date=local_date)
    language = lang or language_of(member.effective_locale)
    click.echo(blocks_to_text(render_digest(digest_for(snapshot, member), language=language)))


def _member_or_newcomer(context: CliContext, session: Session, user_id: str) -> MemberView:
    """The member ``user_id``; for someone not in the team yet, the role the app would give them.

    Whoever uses crm-bot first without being added gets ``CRM_DEFAULT_ROLE`` (or admin, when listed
    in ``CRM_ADMINS``), so that is the digest worth showing; said on stderr, to keep stdout the digest.
    """
    member = get_member(session, user_id)
    if member is not None:
        return member
    settings = context.settings
    role = role_of(session, user_id=user_id, admins=settings.admins, default_role=settings.default_role)
    if role is None:
        raise NotFound(
            f"{user_id} is not in the team and CRM_DEFAULT_ROLE is none, so they get no digest: "
            "`crm-bot team list` shows who is in the team"
        )
    click.echo(
        f"crm-bot: {user_id} is not in the team yet: the digest as their role {role} would get it", err=True
    )
    return dataclasses.replace(TEAM_VIEW, slack_user_id=user_id, role=role)


def _send(context: CliContext, local_date: dt.date) -> None:
    settings = context.settings
    engine = context.engine()
    sender = DigestSender(
        engine=engine,
        client=make_web_client(settings),
        people=People(engine=engine, default_timezone=settings.timezone),
        default_timezone=settings.timezone,
        worker=worker_name(),
    )
    report = sender.send_for_date(local_date, dt.datetime.now(dt.UTC))
    click.echo(
        f"sent {len(report.sent)} digests for {local_date}; {report.skipped} already sent or being sent"
    )
    for recipient, error in report.failed.items():
        click.echo(f"crm-bot: digest for {recipient} failed ({error}); run again to retry", err=True)
    if report.failed:
        raise SystemExit(2)
