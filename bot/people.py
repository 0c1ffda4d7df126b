"""Who is asking: each Slack user's language and time zone, cached for speed.

The language and time zone come from the team settings when an admin set them (``crm-bot team``),
else from the user's Slack profile (``users.info`` with ``include_locale``), else English and
``CRM_TIMEZONE``. What Slack says is also remembered for team members, so the digest knows it.
The cache is per process and only saves ``users.info`` calls: a stale entry means one reply in the
previous language, never wrong data.
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
        profile = _slack_profile(client, user_id)
        locale, timezone = profile or (None, None)
        # Its own short transaction: remembering a profile is not part of the user's action.
        with transaction(self._engine) as session:
            remember_profile(session, user_id=user_id, timezone=timezone, locale=locale)
            member = get_member(session, user_id)
        person = self._person(
            user_id,
            member.locale if member and member.locale else locale,
            member.timezone if member and member.timezone else timezone,
        )
        if profile is not None:
            with self._lock:
                self._cache[user_id] = (self._monotonic(), person)
        return person

    def _person(self, user_id: str, locale: str | None, timezone: str | None) -> Person:
        return Person(
            user_id, language_of(locale), zone_or_none(timezone) or ZoneInfo(self._default_timezone)
        )


def _slack_profile(client: WebClient, user_id: str) -> tuple[str | None, str | None] | None:
    """(locale, tz) from Slack; None when Slack cannot tell us now, so defaults apply this once."""
    try:
        user = client.users_info(user=user_id, include_locale=True)["user"]
    except (SlackApiError, SlackClientError, OSError, KeyError) as error:
        log.warning("users.info for %s failed (%s); using default language and time zone", user_id, error)
        return None
    return user.get("locale"), user.get("tz")


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
