"""One typed settings object, built once at start-up from the environment.

Only entry points load ``.env`` (see ``bot.cli``); everything below takes a ``Settings``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///crm.sqlite3"
ROLES = ("admin", "manager", "sales", "support")
DEFAULT_LOG_REACTION = "memo"
# Slack's emoji names: lower-case letters, digits, and - _ + ' (as in "+1", "memo", "white_check_mark").
_EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")
NO_ROLE = "none"  # as CRM_DEFAULT_ROLE: people not in the team are refused until an admin adds them


DEFAULT_PHONE_REGION = "JP"  # the country of numbers written without a country code
# Connections each process (the server, each worker) keeps open to the store; it opens up to 5 more
# at peak (crm_core.store). With the default, two replicas of `serve --workers 2` use at most
# 2 x 3 x 15 = 90 connections: within PostgreSQL's default max_connections (100, 97 for non-superusers).
DEFAULT_DB_POOL_SIZE = 10
_MAX_DB_POOL_SIZE = 100


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    timezone: str = "UTC"
    admins: tuple[str, ...] = ()
    default_role: str = "sales"
    phone_region: str = DEFAULT_PHONE_REGION  # where numbers written without a country code are
    log_reaction: str = DEFAULT_LOG_REACTION  # the emoji (name, no colons) whose reaction logs a message
    db_pool_size: int = DEFAULT_DB_POOL_SIZE  # connections each process keeps open to the store

    @property
    def uses_default_store(self) -> bool:
        """The default SQLite file is upgraded automatically so a newcomer's first command just works."""
        return self.database_url == DEFAULT_DATABASE_URL

    def require(self, name: str) -> str:
        """Return a secret needed by the command at hand, or fail naming the variable to set."""
        value = getattr(self, name.lower().removeprefix("crm_"))
        if not value:
            raise ConfigError(f"{name} is not set: add it to the environment or to .env (see .env.example)")
        return str(value)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: ``os.environ``), validating what can be checked now."""
    env = os.environ if environ is None else environ
    timezone = env.get("CRM_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"CRM_TIMEZONE={timezone!r} is not a known time zone: use an IANA name such as Asia/Tokyo"
        ) from None
    default_role = env.get("CRM_DEFAULT_ROLE", "").strip() or "sales"
    if default_role not in (*ROLES, NO_ROLE):
        raise ConfigError(f"CRM_DEFAULT_ROLE must be one of {', '.join((*ROLES, NO_ROLE))}")
    admins = tuple(a.strip() for a in env.get("CRM_ADMINS", "").split(",") if a.strip())
    phone_region = env.get("CRM_PHONE_REGION", "").strip().upper() or DEFAULT_PHONE_REGION
    from crm_core.identity.phones import is_phone_region  # libphonenumber's tables: only when settings load

    if not is_phone_region(phone_region):
        raise ConfigError(
            f"CRM_PHONE_REGION={phone_region!r} is not a known region: use a two-letter country code "
            "such as JP or US"
        )
    log_reaction = env.get("CRM_LOG_REACTION", "").strip().strip(":") or DEFAULT_LOG_REACTION
    if not _EMOJI_NAME.fullmatch(log_reaction):
        raise ConfigError(
            f"CRM_LOG_REACTION={log_reaction!r} is not an emoji name: write it as Slack does, such as memo"
        )
    db_pool_size = _db_pool_size(env.get("CRM_DB_POOL_SIZE", "").strip())
    return Settings(
        database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        slack_api_url=env.get("SLACK_API_URL") or None,
        timezone=timezone,
        admins=admins,
        default_role=default_role,
        phone_region=phone_region,
        log_reaction=log_reaction,
        db_pool_size=db_pool_size,
    )


def _db_pool_size(text: str) -> int:
    if not text:
        return DEFAULT_DB_POOL_SIZE
    if not text.isdigit() or not 1 <= int(text) <= _MAX_DB_POOL_SIZE:
        raise ConfigError(
            f"CRM_DB_POOL_SIZE={text!r} is not a number of connections: use a whole number from 1 to "
            f"{_MAX_DB_POOL_SIZE}, such as {DEFAULT_DB_POOL_SIZE}"
        )
    return int(text)
