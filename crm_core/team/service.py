"""Team members. A time zone or locale left empty means "take it from the person's Slack profile"."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.config import ROLES
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import TeamMember

_DIGEST_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WEEKDAY_SETS = {"mon-fri": (0, 1, 2, 3, 4), "mon-sat": (0, 1, 2, 3, 4, 5), "daily": (0, 1, 2, 3, 4, 5, 6)}


@dataclass(frozen=True)
class MemberView:
    slack_user_id: str
    role: str
    timezone: str | None  # set by the team; None means "as in the Slack profile"
    locale: str | None
    slack_timezone: str | None
    slack_locale: str | None
    digest_enabled: bool
    digest_time: dt.time
    digest_weekdays: tuple[int, ...]

    @property
    def effective_timezone(self) -> str | None:
        return self.timezone or self.slack_timezone

    @property
    def effective_locale(self) -> str | None:
        return self.locale or self.slack_locale

    @classmethod
    def of(cls, row: TeamMember) -> MemberView:
        hour, minute = (int(part) for part in row.digest_time.split(":"))
        return cls(
            row.slack_user_id,
            row.role,
            row.timezone,
            row.locale,
            row.slack_timezone,
            row.slack_locale,
            row.digest_enabled,
            dt.time(hour, minute),
            WEEKDAY_SETS.get(row.digest_weekdays, WEEKDAY_SETS["mon-fri"]),
        )


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time zone {name!r} is unknown: use an IANA name such as Asia/Tokyo") from None
    return name


def validate_digest_time(text: str) -> str:
    if not _DIGEST_TIME.match(text):
        raise InvalidInput(f"digest time {text!r} must be HH:MM on a 24-hour clock, e.g. 09:00")
    return text


def add_member(
    session: Session,
    *,
    actor: Actor,
    user_id: str,
    role: str,
    timezone: str | None = None,
    locale: str | None = None,
    digest_time: str | None = None,
    digest_weekdays: str | None = None,
) -> MemberView:
    """Add someone to the team, or update them (their role too) if they are already in it."""
    authorize(actor, Permission.MANAGE_TEAM)
    user_id = user_id.strip()
    if not re.fullmatch(r"[UW][A-Z0-9]{2,31}", user_id):
        raise InvalidInput(f"{user_id!r} is not a Slack user id (they look like U012AB3CD)")
    row = session.get(TeamMember, user_id) or TeamMember(slack_user_id=user_id)
    previous_role, row.role = row.role, validate_role(role)
    if timezone is not None:
        row.timezone = validate_timezone(timezone)
    if locale is not None:
        row.locale = locale
    if digest_time is not None:
        row.digest_time = validate_digest_time(digest_time)
    if digest_weekdays is not None:
        if digest_weekdays not in WEEKDAY_SETS:
            raise InvalidInput(f"digest days must be one of {', '.join(WEEKDAY_SETS)}")
        row.digest_weekdays = digest_weekdays
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="team.set",
        detail={"member": user_id, "role": role, "previous_role": previous_role},
    )
    return MemberView.of(row)


def list_members(session: Session) -> list[MemberView]:
    return [MemberView.of(r) for r in session.scalars(select(TeamMember).order_by(TeamMember.slack_user_id))]


def get_member(session: Session, user_id: str) -> MemberView | None:
    row = session.get(TeamMember, user_id)
    return MemberView.of(row) if row else None


def remember_profile(session: Session, *, user_id: str, timezone: str | None, locale: str | None) -> None:
    """Keep what Slack said of a member's time zone and locale, for when Slack is not asked (digests).

    Stored apart from the team's own settings, so a later change in the Slack profile is followed.
    """
    row = session.get(TeamMember, user_id)
    if row is None:
        return
    if timezone and row.slack_timezone != timezone:
        row.slack_timezone = timezone
    if locale and row.slack_locale != locale:
        row.slack_locale = locale


def remove_member(session: Session, *, actor: Actor, user_id: str) -> None:
    authorize(actor, Permission.MANAGE_TEAM)
    row = session.get(TeamMember, user_id)
    if row is None:
        raise NotFound(f"{user_id} is not in the team: `crm-bot team list` shows who is")
    session.delete(row)
    record(session, actor=actor, action="team.remove", detail={"member": user_id})
