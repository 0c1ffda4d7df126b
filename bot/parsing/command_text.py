"""A slash command's text as Slack sends it with ``should_escape: true``, back to what was typed.

With escaping on (manifest.yaml), Slack replaces what the person picked from its menus with markup
and escapes ``&``, ``<`` and ``>`` in the rest: a mention becomes ``<@U123|sam>``, a channel
``<#C123|sales>``, ``@here`` ``<!here>``, a user group ``<!subteam^S123|@sales>``, a link
``<https://acme.example|acme.example>`` and an e-mail address ``<mailto:a@acme.example|a@acme.example>``.
The grammar wants the words people typed, with one exception: a person stays ``<@U123>``, the only
way to know which of two Sams was meant (``/crm admin role @sam manager``). A ``<`` the person typed
arrives as ``&lt;``, so it can never be taken for markup.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def typed_text(escaped: str) -> str:
    """What the person typed, with each person they mentioned as ``<@U…>``."""
    return unescape(_MARKUP.sub(_as_typed, escaped))


def unescape(text: str) -> str:
    """Undo Slack's escaping of ``&``, ``<`` and ``>`` in text people typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _as_typed(markup: re.Match[str]) -> str:
    target, label = markup.group(1), markup.group(2)
    if target.startswith("@"):
        return f"<{target}>"  # a person: the id is what counts
    if target.startswith("#"):
        return f"#{label}" if label else target
    if target.startswith("!"):
        name = target[1:].split("^")[0]
        return label or _SPECIAL.get(name, f"@{name}")
    if label:  # a link or an e-mail address: the label is what was typed
        return label
    return target.removeprefix("mailto:")
