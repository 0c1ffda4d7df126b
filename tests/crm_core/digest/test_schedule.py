"""Who is due a digest: local times, weekdays, daylight-saving changes, and what was delivered."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from crm_core.digest.schedule import due_digests
from crm_core.team.service import MemberView

UTC = dt.UTC


NEW_YORK_MANAGER = MemberView(
    slack_user_id="U0NY",
    role="manager",
    timezone="America/New_York",
    locale=None,
    slack_timezone=None,
    slack_locale=None,
    digest_enabled=True,
    digest_time=dt.time(9),
    digest_weekdays=(0, 1, 2, 3, 4),
)


def member(user_id: str = "U0NY", **changes: Any) -> MemberView:
    return replace(NEW_YORK_MANAGER, slack_user_id=user_id, **changes)


def due_at(
    now: dt.datetime, *members: MemberView, delivered: set[tuple[str, dt.date]] | None = None
) -> list[str]:
    found = due_digests(list(members), now=now, default_timezone="UTC", delivered=delivered or set())
    return [f"{d.member.slack_user_id}@{d.local_date}" for d in found]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday 6 March 2026, New York on EST (UTC-5): 09:00 local is 14:00 UTC.
        (dt.datetime(2026, 3, 6, 13, 59, tzinfo=UTC), []),
        (dt.datetime(2026, 3, 6, 14, 0, tzinfo=UTC), ["U0NY@2026-03-06"]),
        # Monday 9 March, after the switch to EDT (UTC-4) on the 8th: 09:00 local is 13:00 UTC.
        (dt.datetime(2026, 3, 9, 12, 59, tzinfo=UTC), []),
        (dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC), ["U0NY@2026-03-09"]),
        # Sunday 8 March, the day of the switch: a weekend, no digest.
        (dt.datetime(2026, 3, 8, 15, 0, tzinfo=UTC), []),
    ],
)
def test_local_digest_time_follows_daylight_saving(now: dt.datetime, expected: list[str]) -> None:
    assert due_at(now, member()) == expected


def test_the_local_date_is_the_members_not_utcs() -> None:
    tokyo = member("U0TOKYO", timezone="Asia/Tokyo")
    # 23:30 UTC on Tuesday is 08:30 Wednesday in Tokyo: not yet; 00:00 UTC is 09:00 there.
    assert due_at(dt.datetime(2026, 3, 3, 23, 30, tzinfo=UTC), tokyo) == []
    assert due_at(dt.datetime(2026, 3, 4, 0, 0, tzinfo=UTC), tokyo) == ["U0TOKYO@2026-03-04"]


def test_a_missed_digest_goes_out_later_the_same_day_but_not_twice() -> None:
    late = dt.datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # 15:00 in New York, six hours late
    assert due_at(late, member()) == ["U0NY@2026-03-06"]
    assert due_at(late, member(), delivered={("U0NY", dt.date(2026, 3, 6))}) == []


def test_disabled_digests_unknown_zones_and_daily_members() -> None:
    saturday = dt.datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    off = member("U0OFF", digest_enabled=False)
    daily = member("U0DAILY", timezone=None, digest_weekdays=(0, 1, 2, 3, 4, 5, 6))
    assert due_at(saturday, off, daily) == ["U0DAILY@2026-03-07"]  # no zone known: CRM_TIMEZONE (UTC)
