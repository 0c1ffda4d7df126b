"""Message catalogues: every sentence the Slack layer says, in English and Japanese.

Keys are dotted names (``log.done``); values are ``str.format`` templates. Callers escape user text
before passing it as a parameter (see ``bot.blocks.limits.escape``): the catalogues themselves are
trusted mrkdwn. A test keeps both catalogues on the same keys and placeholders.
"""

from __future__ import annotations

from bot.messages import en, ja

CATALOGUES: dict[str, dict[str, str]] = {"en": en.MESSAGES, "ja": ja.MESSAGES}
DEFAULT_LANGUAGE = "en"


def language_of(locale: str | None) -> str:
    """The catalogue for a Slack locale (``ja-JP`` → ``ja``); English for anything else or nothing."""
    return "ja" if locale and locale.lower().startswith("ja") else DEFAULT_LANGUAGE


def t(language: str, key: str, **params: object) -> str:
    """The message ``key`` in ``language``, with ``params`` filled in."""
    catalogue = CATALOGUES.get(language, CATALOGUES[DEFAULT_LANGUAGE])
    return catalogue[key].format(**params)


def has_message(key: str) -> bool:
    return key in CATALOGUES[DEFAULT_LANGUAGE]
