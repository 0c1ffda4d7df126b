"""Who is due a digest now: each member at their own local time, on their own weekdays.

A digest missed while no replica was running goes out at the next tick of the same local day (the
test is "at or after the digest time", not "at the digest time"); a day that has ended is not
caught up, since yesterday's follow-ups are in today's digest anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from crm_core.team.service import MemberView

DIGEST_ROLES = ("admin", "manager", "sales", "support")


@dataclass(frozen=True)
class DueDigest:
    member: MemberView
    local_date: dt.date


def local_zone(member: MemberView, default_timezone: str) -> ZoneInfo:
    return ZoneInfo(member.effective_timezone or default_timezone)


def due_digests(
    members: list[MemberView], *, now: dt.datetime, default_timezone: str, delivered: set[tuple[str, dt.date]]
) -> list[DueDigest]:
    """Members whose local digest time has come today and who have not had today's digest."""
    due = []
    for member in members:
        if not member.digest_enabled or member.role not in DIGEST_ROLES:
            continue
        local = now.astimezone(local_zone(member, default_timezone))
        if local.weekday() not in member.digest_weekdays or local.time() < member.digest_time:
            continue
        if (member.slack_user_id, local.date()) not in delivered:
            due.append(DueDigest(member, local.date()))
    return due
