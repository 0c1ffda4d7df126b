"""Message catalogues: every sentence the Slack layer says, in English and Japanese.

Keys are dotted names (``log.done``); values are ``str.format`` templates. Callers escape user text
before passing it as a parameter (see ``bot.blocks.limits.escape``): the catalogues themselves are
trusted mrkdwn. A test keeps both catalogues on the same keys and placeholders.

Two things the templates cannot say by themselves are done here:

- plurals: ``{count:plural:purchase|purchases}`` is the first word when ``count`` is 1, else the
  second (English needs it; Japanese has no plural forms and does not use it);
- a sentence that ends on a parameter which itself ends in a full stop ("Acme Ltd.") does not get a
  second one: ``*{customer}*.`` reads "*Acme Ltd.*", not "*Acme Ltd.*.".
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from bot.messages import en, ja

CATALOGUES: dict[str, dict[str, str]] = {"en": en.MESSAGES, "ja": ja.MESSAGES}
DEFAULT_LANGUAGE = "en"


def language_of(locale: str | None) -> str:
    """The catalogue for a Slack locale (``ja-JP`` → ``ja``); English for anything else or nothing."""
    return "ja" if locale and locale.lower().startswith("ja") else DEFAULT_LANGUAGE


def t(language: str, key: str, **params: object) -> str:
    """The message ``key`` in ``language``, with ``params`` filled in."""
    catalogue = CATALOGUES.get(language, CATALOGUES[DEFAULT_LANGUAGE])
    return _FORMATTER.format(_one_full_stop(catalogue[key], params), **params)


class _CatalogueFormatter(string.Formatter):
    """``str.format`` plus the ``plural:one|other`` format spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith(_PLURAL):
            one, _, other = format_spec.removeprefix(_PLURAL).partition("|")
            return one if value == 1 else other
        return str(super().format_field(value, format_spec))


_PLURAL = "plural:"
_FORMATTER = _CatalogueFormatter()
# A placeholder (perhaps closed in bold or italics) followed by the full stop that ends a sentence.
_STOP_AFTER_PARAMETER = re.compile(r"\{(\w+)\}([*_]?)\.(?=\s|$)")


def _one_full_stop(template: str, params: Mapping[str, object]) -> str:
    """Drop the template's full stop after a parameter whose value already ends with one."""

    def keep_one(match: re.Match[str]) -> str:
        value = params.get(match.group(1))
        if isinstance(value, str) and value.endswith("."):
            return match.group(0)[:-1]
        return match.group(0)

    return _STOP_AFTER_PARAMETER.sub(keep_one, template)


def has_message(key: str) -> bool:
    return key in CATALOGUES[DEFAULT_LANGUAGE]
