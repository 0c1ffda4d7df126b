"""Who is asking: each Slack user's language, time zone and standing, cached for speed.

The language and time zone come from the team settings when an admin set them (``crm-bot team``),
else from the user's Slack profile (``users.info`` with ``include_locale``), else English and
``CRM_TIMEZONE``. What Slack says is also remembered for team members, so the digest knows it.
The cache is per process and only saves ``users.info`` calls: a stale entry means one reply in the
previous language, never wrong data. Whether someone is a guest (``is_restricted`` /
``is_ultra_restricted``) and which organisation they belong to (``team_id``) come from the same
``users.info`` answer; when Slack cannot answer, the person is treated as a guest for this one
request, since nobody has vouched for them. In an Enterprise Grid organisation a person's
``team_id`` is their home workspace, which may be another of the organisation's workspaces:
``enterprise_user.enterprise_id`` says which organisation they belong to (``Workspace.is_home_of``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine

from bot.log_lines import printable
from bot.messages import language_of
from crm_core.store import reading, transaction
from crm_core.team.service import MemberView, get_member, remember_profile

log = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 15 * 60


@dataclass(frozen=True)
class Workspace:
    """Where the app is installed, as ``auth.test`` says: a workspace, maybe of an Enterprise Grid."""

    team_id: str | None
    enterprise_id: str | None = None

    def is_home_of(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """Someone of this organisation: of this workspace, or of another workspace of the same grid.

        Slack Connect brings in people whose team (and enterprise, if any) is another organisation's.
        """
        if team_id is not None and team_id == self.team_id:
            return True
        return self.enterprise_id is not None and enterprise_id == self.enterprise_id


@dataclass(frozen=True)
class Person:
    user_id: str
    language: str  # "en" or "ja": a key of bot.messages.CATALOGUES
    timezone: ZoneInfo
    is_guest: bool  # a (single- or multi-channel) guest, or someone Slack could not tell us about
    team_id: str | None  # their home workspace: another organisation's in a shared channel
    enterprise_id: str | None = None  # their Enterprise Grid organisation, if any


@dataclass(frozen=True)
class SlackProfile:
    """What ``users.info`` says about a person that matters here."""

    locale: str | None
    timezone: str | None
    is_guest: bool
    team_id: str | None
    enterprise_id: str | None = None
    is_bot: bool = False
    deleted: bool = False


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
        self._languages: dict[str, tuple[float, str | None]] = {}  # known_language's reads of the store
        self._lock = threading.Lock()
        self._remembering = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-remember-profile")
        self._installation: Workspace | None = None

    def installation(self, client: WebClient) -> Workspace:
        """Where the bot token is installed (``auth.test``), asked once per process.

        Bolt knows it already where it serves requests; a worker process, which gets requests
        without Bolt's context, asks here. When Slack cannot answer, no organisation is known, so
        nobody from another workspace counts as a colleague this time.
        """
        if self._installation is None:
            try:
                answer = client.auth_test()
            except SLACK_FAILURES as error:
                log.warning("auth.test failed (%s); no grid colleague recognised now", slack_failure(error))
                return Workspace(team_id=None)
            self._installation = Workspace(answer.get("team_id"), answer.get("enterprise_id"))
        return self._installation

    def wait_until_remembered(self, timeout: float = 30.0) -> None:
        """Until the profiles looked up so far are written (for the console and tests)."""
        self._remembering.submit(lambda: None).result(timeout)

    def _remember(self, user_id: str, profile: SlackProfile) -> None:
        try:
            with transaction(self._engine) as session:
                remember_profile(session, user_id=user_id, timezone=profile.timezone, locale=profile.locale)
        except Exception as error:  # a later lookup tries again; the digest uses the last one kept
            log.warning("could not remember the Slack profile of %s: %s", user_id, type(error).__name__)

    def known_language(self, user_id: str) -> str | None:
        """Their language without asking Slack (for an ack): cached here, or remembered in the store.

        What the store says is kept as long as a profile is: a server whose handlers run in worker
        processes looks nobody up itself, and under a burst it answers "busy" to the same people
        many times a second, each answer a read of the store before the ack.
        """
        with self._lock:
            cached = self._cache.get(user_id)
            read = self._languages.get(user_id)
        if cached:
            return cached[1].language
        if read and self._monotonic() - read[0] < self._ttl:
            return read[1]
        with reading(self._engine) as session:
            member = get_member(session, user_id)
        language = language_of(member.locale) if member and member.locale else None
        with self._lock:
            self._languages[user_id] = (self._monotonic(), language)
        return language

    def lookup(self, client: WebClient, user_id: str) -> Person:
        """The person, asking Slack when the cached answer is missing or old."""
        with self._lock:
            cached = self._cache.get(user_id)
        if cached and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        answered = _slack_profile(client, user_id)
        profile = answered or _UNKNOWN
        with reading(self._engine) as session:
            member = get_member(session, user_id)
        if member is not None and _changed(member, profile):
            # Remembering a profile is not part of the user's action: written in the background, so the
            # request never waits for SQLite's write lock (another process may be importing).
            self._remembering.submit(self._remember, user_id, profile)
        locale = member.locale if member and member.locale else profile.locale
        timezone = member.timezone if member and member.timezone else profile.timezone
        person = Person(
            user_id,
            language_of(locale),
            zone_or_none(timezone) or ZoneInfo(self._default_timezone),
            is_guest=profile.is_guest,
            team_id=profile.team_id,
            enterprise_id=profile.enterprise_id,
        )
        if answered is not None:
            with self._lock:
                self._cache[user_id] = (self._monotonic(), person)
        return person


# What asking Slack about someone can fail with: an API error, a transport error, an odd answer.
SLACK_FAILURES = (SlackApiError, SlackClientError, OSError, KeyError, TypeError)


def ask_slack(client: WebClient, user_id: str) -> SlackProfile:
    """What ``users.info`` says of ``user_id`` now; raises one of ``SLACK_FAILURES`` if it cannot."""
    user = client.users_info(user=user_id, include_locale=True)["user"]
    return SlackProfile(
        locale=user.get("locale"),
        timezone=user.get("tz"),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        team_id=user.get("team_id"),
        enterprise_id=(user.get("enterprise_user") or {}).get("enterprise_id"),
        # Slackbot is no bot user to users.info, but it is no person either.
        is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
        deleted=bool(user.get("deleted")),
    )


def slack_failure(error: Exception) -> str:
    """Slack's error code or the error's class: a Web API error's text quotes the whole response."""
    if isinstance(error, SlackApiError):
        return printable(error.response.get("error"))
    return type(error).__name__


def _changed(member: MemberView, profile: SlackProfile) -> bool:
    return bool(
        (profile.timezone and profile.timezone != member.slack_timezone)
        or (profile.locale and profile.locale != member.slack_locale)
    )


def _slack_profile(client: WebClient, user_id: str) -> SlackProfile | None:
    """The profile from Slack; None when Slack cannot tell us now, so defaults apply this once."""
    try:
        return ask_slack(client, user_id)
    except SLACK_FAILURES as error:
        log.warning(
            "users.info for %s failed (%s); using default language and time zone",
            printable(user_id),
            slack_failure(error),
        )
        return None


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
