"""Who is asking: each Slack user's language, time zone and standing, cached for speed.

The language and time zone come from the team settings when an admin set them (``crm-bot team``),
else from the user's Slack profile (``users.info`` with ``include_locale``), else English and
``CRM_TIMEZONE``. What Slack says is also remembered for team members, so the digest knows it.
The cache is per process and only saves ``users.info`` calls: a stale entry means one reply in the
previous language, never wrong data. Whether someone is a guest (``is_restricted`` /
``is_ultra_restricted``) and which organisation they belong to (``team_id``) come from the same
``users.info`` answer; when Slack cannot answer, the person is treated as a guest for this one
request, since nobody has vouched for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine

from bot.messages import language_of
from crm_core.store import transaction
from crm_core.team.service import get_member, remember_profile

log = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 15 * 60


@dataclass(frozen=True)
class Person:
    user_id: str
    language: str  # "en" or "ja": a key of bot.messages.CATALOGUES
    timezone: ZoneInfo
    is_guest: bool  # a (single- or multi-channel) guest, or someone Slack could not tell us about
    team_id: str | None  # their organisation: another one's in a shared channel


@dataclass(frozen=True)
class SlackProfile:
    """What ``users.info`` says about a person that matters here."""

    locale: str | None
    timezone: str | None
    is_guest: bool
    team_id: str | None


_UNKNOWN = SlackProfile(locale=None, timezone=None, is_guest=True, team_id=None)


class People:
    def __init__(
        self,
        *,
        engine: Engine,
        default_timezone: str,
        ttl: float = PROFILE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._default_timezone = default_timezone
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Person]] = {}
        self._lock = threading.Lock()

    def lookup(self, client: WebClient, user_id: str) -> Person:
        """The person, asking Slack when the cached answer is missing or old."""
        with self._lock:
            cached = self._cache.get(user_id)
        if cached and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        answered = _slack_profile(client, user_id)
        profile = answered or _UNKNOWN
        # Its own short transaction: remembering a profile is not part of the user's action.
        with transaction(self._engine) as session:
            remember_profile(session, user_id=user_id, timezone=profile.timezone, locale=profile.locale)
            member = get_member(session, user_id)
        locale = member.locale if member and member.locale else profile.locale
        timezone = member.timezone if member and member.timezone else profile.timezone
        person = Person(
            user_id,
            language_of(locale),
            zone_or_none(timezone) or ZoneInfo(self._default_timezone),
            is_guest=profile.is_guest,
            team_id=profile.team_id,
        )
        if answered is not None:
            with self._lock:
                self._cache[user_id] = (self._monotonic(), person)
        return person


def _slack_profile(client: WebClient, user_id: str) -> SlackProfile | None:
    """The profile from Slack; None when Slack cannot tell us now, so defaults apply this once."""
    try:
        user = client.users_info(user=user_id, include_locale=True)["user"]
    except (SlackApiError, SlackClientError, OSError, KeyError) as error:
        # Slack's error code or the error's class: a Web API error's text quotes the whole response.
        reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
        log.warning("users.info for %s failed (%s); using default language and time zone", user_id, reason)
        return None
    return SlackProfile(
        locale=user.get("locale"),
        timezone=user.get("tz"),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        team_id=user.get("team_id"),
    )


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
