"""The ``/crm`` command grammar: the text after ``/crm`` becomes one small, typed command.

Parsing is pure (no Slack, no store, no clock; ``today`` is the user's local date, passed in), so every
rule here is tested without a workspace and handlers receive a dataclass instead of re-reading text.

Sub-commands (matched after NFKC normalisation and case folding, so ``ＬＯＧ`` and ``Log`` are ``log``):

- ``help`` / ``ヘルプ`` / ``?`` / empty text → ``Help()``
- ``find <query>`` / ``検索`` → ``Find``; text that starts with no sub-command is a ``Find`` too, so
  ``/crm Acme`` looks Acme up (a customer whose name starts with a sub-command word needs ``find``).
- ``log <customer> <kind> <summary…>`` / ``記録`` → ``Log``
- ``followup <customer> <when> [note…]`` / ``follow-up`` / ``fu`` / ``フォロー`` → ``SetFollowUp``;
  the note is optional because "call Acme back on Friday" needs no more words.
- ``mine`` / ``自分`` → ``Mine()``
- ``admin role <@user> <role>`` / ``admin ロール`` → ``SetRole``; the user as Slack sends a mention in
  command text (``<@U123|sam>``, Slack's escaping already undone) or a bare user id.
- ``admin audit <customer>`` / ``admin 監査`` → ``ShowAudit``. Whether the caller is an admin is
  decided by crm_core, not here.
- ``subscribe <topic> [owner:@user] [lang:en|ja]`` / ``購読`` → ``Subscribe``; ``subscriptions`` /
  ``購読一覧`` → ``ListSubscriptions()``; ``unsubscribe <topic>`` / ``購読解除`` → ``Unsubscribe``. Topics
  are ``crm_core.alerts.topics.TOPICS`` (and ``TOPIC_ALIASES``).
- ``segment <name | at-risk | vip | won-back> [owner:me|@user] [tag:x]`` / ``セグメント`` → ``Segment``;
  the name (several words, or quoted) is checked by crm_core, which knows the segments.

A mention of the bot in a thread (``parse_mention``, given the text after the mention) is only
``log <customer>`` / ``記録 <customer>`` → ``LogThread``; the rest of the text is the customer.

Customer names may be quoted with ``"…"``, ``“…”``, ``'…'``, ``‘…’``, ``「…」`` or ``『…』`` and may then
contain anything, including kind words and dates. Unquoted, a name may still span several words:

- for ``log`` it is everything before the first later word that is a kind (``log Acme Corp call …``);
- for ``followup`` it is everything before the earliest later position where one to four words read as
  a date (``followup Acme Corp next fri …``), taking the longest such phrase there; names longer than
  ``MAX_UNQUOTED_NAME_WORDS`` words must be quoted, which bounds the date look-ups per command.

A name that itself contains a kind word or a date phrase ("Sun Foods", "Email Express") must be
quoted; there is no way to tell it apart from the command's own words.

Only keywords are normalised. The customer, query, summary and note are returned exactly as typed
(trimmed at the ends), because they are the user's words: a summary keeps its full-width characters,
emoji, line breaks and anything that looks like SQL or markup. Slack's own escaping (``&amp;``,
``&lt;``, ``&gt;``) must be undone by the Slack layer before the text arrives here.

Mistakes raise ``UsageError(key, params)``. The key names a message in the English and Japanese
catalogues of the Slack layer; this module writes no user-facing sentences. ``USAGE_PARAMS`` lists
every key with the parameter names it always carries.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from bot.parsing.when import latest_due_date, resolve_when
from crm_core.alerts.topics import Topic
from crm_core.config import ROLES
from crm_core.interactions.kinds import KIND_ALIASES, LOGGABLE_KINDS, PURCHASE_WORDS, loggable_kind

__all__ = [
    "KIND_ALIASES",
    "LOGGABLE_KINDS",
    "MAX_COMMAND_CHARS",
    "MAX_UNQUOTED_NAME_WORDS",
    "TOPIC_ALIASES",
    "USAGE_KEYS",
    "USAGE_PARAMS",
    "Command",
    "Find",
    "Help",
    "ListSubscriptions",
    "Log",
    "LogThread",
    "Mine",
    "Segment",
    "SetFollowUp",
    "SetRole",
    "ShowAudit",
    "Subscribe",
    "Unsubscribe",
    "UsageError",
    "parse_command",
    "parse_mention",
]

MAX_COMMAND_CHARS: Final = 3000
"""Longer text is refused before any parsing; the modals are the place for long notes."""

MAX_UNQUOTED_NAME_WORDS: Final = 8
"""How many words an unquoted ``followup`` customer name may have."""

_MAX_WHEN_WORDS: Final = 4


USAGE_PARAMS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        # The text is longer than MAX_COMMAND_CHARS. max: that limit.
        "usage.too_long": ("max",),
        # A customer name opens a quote that never closes. quote: the opening character.
        "usage.unclosed_quote": ("quote",),
        # `find` with nothing to look for.
        "usage.find": (),
        # `log` lacks a part. missing: "customer", "kind" or "summary".
        "usage.log": ("missing",),
        # The word where a kind belongs is not one (or is "purchase"). kind: that word as typed.
        "usage.unknown_kind": ("kind",),
        # `followup` lacks a part. missing: "customer" or "when".
        "usage.followup": ("missing",),
        # No date could be read where one belongs. when: the text after the customer, as typed.
        "usage.bad_when": ("when",),
        # The date is before today. when: the phrase as typed; date: ISO date it names.
        "usage.when_past": ("when", "date"),
        # The date is too far ahead. when, date as above; latest: the last ISO date accepted.
        "usage.when_too_far": ("when", "date", "latest"),
        # `mine` takes no arguments. extra: the text that followed it.
        "usage.mine": ("extra",),
        # A mention of the bot that is not `log <customer>` inside a thread.
        "usage.mention": (),
        # A button value or a modal's metadata crm-bot did not write (crafted, or from an old version).
        "usage.stale_input": (),
        # A thread was to be logged where the bot may not read it (it is not in the channel).
        "usage.bot_not_in_channel": (),
        # `admin` without a known sub-command, or `admin role` without a user and a role.
        "usage.admin": (),
        # `admin role` with a word that is not a role. role: that word as typed.
        "usage.admin_role": ("role",),
        # `admin audit` with no customer.
        "usage.admin_audit": (),
        # `subscribe` / `unsubscribe` without a topic.
        "usage.subscribe": (),
        # A word where a topic belongs that is not one. topic: that word as typed.
        "usage.unknown_topic": ("topic",),
        # An option (owner:, lang:, tag:) with a value it cannot take, or one the command does not
        # take. option: the word as typed.
        "usage.option": ("option",),
        # `subscriptions` takes no arguments. extra: the text that followed it.
        "usage.subscriptions": ("extra",),
        # `segment` without a segment name.
        "usage.segment": (),
    }
)
"""Every ``UsageError`` key and the names of the parameters it always carries (all values are str)."""

USAGE_KEYS: Final = tuple(USAGE_PARAMS)


class UsageError(Exception):
    """The text is not a valid ``/crm`` command; ``key`` and ``params`` select a catalogue message.

    Not a ``CrmError``: those carry a finished sentence, while this one must be rendered in the
    user's language by the Slack layer.
    """

    def __init__(self, key: str, params: Mapping[str, str] | None = None) -> None:
        params = dict(params or {})
        expected = USAGE_PARAMS.get(key)
        if expected is None or set(params) != set(expected):
            # A programming error: the catalogue could not render this message.
            raise ValueError(f"unknown usage key or parameters: {key!r} {sorted(params)!r}")
        super().__init__(key, params)
        self.key = key
        self.params = params


@dataclass(frozen=True, slots=True)
class Help:
    """Show how to use ``/crm``."""


@dataclass(frozen=True, slots=True)
class Find:
    """Look a customer up by name, e-mail or phone."""

    query: str


@dataclass(frozen=True, slots=True)
class Log:
    """Add an interaction of ``kind`` (one of ``LOGGABLE_KINDS``) to a customer's timeline."""

    customer: str
    kind: str
    summary: str


@dataclass(frozen=True, slots=True)
class SetFollowUp:
    """Promise to get back to a customer on ``due_on``."""

    customer: str
    due_on: dt.date
    note: str


@dataclass(frozen=True, slots=True)
class Mine:
    """List the caller's own follow-ups."""


@dataclass(frozen=True, slots=True)
class SetRole:
    """Give a Slack user a role in the team (admins only)."""

    user_id: str
    role: str


@dataclass(frozen=True, slots=True)
class ShowAudit:
    """Show the audit trail of one customer (admins only)."""

    customer: str


@dataclass(frozen=True, slots=True)
class LogThread:
    """``@crm log <customer>`` inside a thread: log the whole thread to the customer."""

    customer: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Post alerts of ``topic`` in this channel (of ``owner_id``'s customers only, when given)."""

    topic: Topic
    owner_id: str | None
    language: str | None  # None: the language of the person subscribing


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    topic: Topic


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    """The alerts this channel subscribes to."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A campaign list as a CSV file: ``owner`` is ``ME``, a user id, or None for everyone's."""

    name: str
    owner: str | None
    tag: str | None


ME: Final = "me"

Command: TypeAlias = (
    Help
    | Find
    | Log
    | SetFollowUp
    | Mine
    | SetRole
    | ShowAudit
    | Subscribe
    | Unsubscribe
    | ListSubscriptions
    | Segment
)

_HELP_WORDS: Final = frozenset({"help", "ヘルプ", "?"})
_FIND_WORDS: Final = frozenset({"find", "検索"})
_LOG_WORDS: Final = frozenset({"log", "記録"})
_FOLLOW_UP_WORDS: Final = frozenset({"followup", "follow-up", "fu", "フォロー"})
_MINE_WORDS: Final = frozenset({"mine", "自分"})
_ADMIN_WORDS: Final = frozenset({"admin", "管理"})
_ROLE_WORDS: Final = frozenset({"role", "ロール"})
_AUDIT_WORDS: Final = frozenset({"audit", "監査"})
_SUBSCRIBE_WORDS: Final = frozenset({"subscribe", "購読"})
_SUBSCRIPTIONS_WORDS: Final = frozenset({"subscriptions", "購読一覧"})
_UNSUBSCRIBE_WORDS: Final = frozenset({"unsubscribe", "購読解除"})
_SEGMENT_WORDS: Final = frozenset({"segment", "セグメント"})
TOPIC_ALIASES: Final[Mapping[str, Topic]] = MappingProxyType(
    {
        **{topic.value: topic for topic in Topic},
        "サポート": Topic.SUPPORT,
        "vip離反": Topic.VIP_RISK,
        "復帰": Topic.WON_BACK,
        "期限切れ": Topic.OVERDUE,
        "新規顧客": Topic.NEW_CUSTOMER,
    }
)
# option word (folded) → the option it sets
_OPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"owner": "owner", "担当": "owner", "lang": "lang", "言語": "lang", "tag": "tag", "タグ": "tag"}
)
_ME_WORDS: Final = frozenset({"me", "自分"})
_LANGUAGES: Final = frozenset({"en", "ja"})
# A user as Slack writes a mention in command text (<@U123|sam>, or <@U123>), or a bare user id.
_USER: Final = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^<>]*)?>|([UW][A-Z0-9]{2,31})")

# Opening quote → the characters that may close it. Double quotes mix because phones and Slack turn
# "…" into “…” (sometimes only on one side); single quotes do not, so "Bob’s" inside '…' is safe.
_QUOTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        '"': '"”“',
        "“": '”"“',
        "”": '”"“',
        "＂": '＂"”',
        "'": "'",
        "‘": "’",
        "＇": "＇",
        "「": "」",
        "『": "』",
    }
)

_WORD = re.compile(r"\S+")
# A word with a digit or an @ is an external id, a phone number or an e-mail: a customer on its own.
_IDENTIFIER = re.compile(r"[0-9@]")


@dataclass(frozen=True, slots=True)
class _Word:
    """A whitespace-separated word: where it is in the original text, and its folded form."""

    start: int
    end: int
    key: str


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _words(text: str, start: int = 0) -> list[_Word]:
    return [_Word(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text, start)]


def _rest(text: str, start: int) -> str:
    return text[start:].strip()


def parse_command(text: str, *, today: dt.date) -> Command:
    """Read the text typed after ``/crm``; raise ``UsageError`` when it is not a valid command."""
    if len(text) > MAX_COMMAND_CHARS:
        raise UsageError("usage.too_long", {"max": str(MAX_COMMAND_CHARS)})
    words = _words(text)
    if not words:
        return Help()
    first = words[0]
    if first.key in _HELP_WORDS:
        return Help()
    if first.key in _FIND_WORDS:
        return _find(_rest(text, first.end))
    if first.key in _LOG_WORDS:
        return _parse_log(text, first.end)
    if first.key in _FOLLOW_UP_WORDS:
        return _parse_follow_up(text, first.end, today)
    if first.key in _MINE_WORDS:
        if len(words) > 1:
            raise UsageError("usage.mine", {"extra": _rest(text, first.end)})
        return Mine()
    if first.key in _ADMIN_WORDS:
        return _parse_admin(text, words)
    if first.key in _SUBSCRIBE_WORDS | _UNSUBSCRIBE_WORDS:
        return _parse_subscription(text, words)
    if first.key in _SUBSCRIPTIONS_WORDS:
        if len(words) > 1:
            raise UsageError("usage.subscriptions", {"extra": _rest(text, first.end)})
        return ListSubscriptions()
    if first.key in _SEGMENT_WORDS:
        return _parse_segment(text, words)
    return _find(text.strip())


def _parse_admin(text: str, words: list[_Word]) -> SetRole | ShowAudit:
    if len(words) > 1 and words[1].key in _AUDIT_WORDS:
        customer = _unquote_whole(_rest(text, words[1].end))
        if not customer:
            raise UsageError("usage.admin_audit")
        return ShowAudit(customer)
    if len(words) != 4 or words[1].key not in _ROLE_WORDS:
        raise UsageError("usage.admin")
    user = _USER.fullmatch(text[words[2].start : words[2].end])
    if user is None:
        raise UsageError("usage.admin")
    role = words[3].key
    if role not in ROLES:
        raise UsageError("usage.admin_role", {"role": text[words[3].start : words[3].end]})
    return SetRole(user.group(1) or user.group(2), role)


def _options(text: str, words: list[_Word], allowed: frozenset[str]) -> tuple[list[_Word], dict[str, str]]:
    """Split ``owner:…``-style options from the other words; values as typed (``:`` or ``：``)."""
    rest: list[_Word] = []
    options: dict[str, str] = {}
    for word in words:
        name, colon, _value = word.key.replace("：", ":").partition(":")
        if not colon or name not in _OPTIONS:
            rest.append(word)
            continue
        typed = text[word.start : word.end]
        value = typed.replace("：", ":").partition(":")[2].strip()
        option = _OPTIONS[name]
        if option not in allowed or not value or option in options:
            raise UsageError("usage.option", {"option": typed})
        options[option] = value
    return rest, options


def _owner(value: str, *, me_allowed: bool) -> str:
    if me_allowed and _fold(value) in _ME_WORDS:
        return ME
    user = _USER.fullmatch(value.removeprefix("@"))
    if user is None:
        raise UsageError("usage.option", {"option": f"owner:{value}"})
    return user.group(1) or user.group(2)


def _parse_subscription(text: str, words: list[_Word]) -> Subscribe | Unsubscribe:
    subscribing = words[0].key in _SUBSCRIBE_WORDS
    allowed = frozenset({"owner", "lang"}) if subscribing else frozenset()
    rest, options = _options(text, words[1:], allowed)
    if not rest:
        raise UsageError("usage.subscribe")
    topic = TOPIC_ALIASES.get(rest[0].key)
    if topic is None or len(rest) > 1:
        raise UsageError("usage.unknown_topic", {"topic": text[rest[0].start : rest[-1].end]})
    if not subscribing:
        return Unsubscribe(topic)
    language = options.get("lang")
    if language is not None and _fold(language) not in _LANGUAGES:
        raise UsageError("usage.option", {"option": f"lang:{language}"})
    owner = _owner(options["owner"], me_allowed=False) if "owner" in options else None
    return Subscribe(topic, owner, _fold(language) if language else None)


def _parse_segment(text: str, words: list[_Word]) -> Segment:
    rest, options = _options(text, words[1:], frozenset({"owner", "tag"}))
    if not rest:
        raise UsageError("usage.segment")
    name = _unquote_whole(text[rest[0].start : rest[-1].end])
    owner = _owner(options["owner"], me_allowed=True) if "owner" in options else None
    return Segment(name, owner, _unquote_whole(options["tag"]) if "tag" in options else None)


def parse_mention(text: str) -> LogThread:
    """Read what follows the bot's mention (``log <customer>``); ``UsageError`` for anything else."""
    words = _words(text)
    if not words or words[0].key not in _LOG_WORDS:
        raise UsageError("usage.mention")
    customer = _unquote_whole(_rest(text, words[0].end))
    if not customer:
        raise UsageError("usage.mention")
    return LogThread(customer)


def _find(query: str) -> Find:
    query = _unquote_whole(query)
    if not query:
        raise UsageError("usage.find")
    return Find(query)


def _unquote_whole(text: str) -> str:
    """``"Acme Corp"`` → ``Acme Corp``, for a query that is one quoted string and nothing else."""
    if len(text) >= 2 and text[-1] in _QUOTES.get(text[0], ""):
        return text[1:-1].strip()
    return text


@dataclass(frozen=True, slots=True)
class _Quoted:
    """A quoted customer name, and where the text after its closing quote starts."""

    name: str
    after: int


def _quoted_customer(text: str, start: int) -> _Quoted | None:
    """The quoted name at the first non-space character from ``start``, if there is one."""
    match = _WORD.search(text, start)
    if match is None or match.group()[0] not in _QUOTES:
        return None
    opening = match.start()
    closers = _QUOTES[text[opening]]
    for index in range(opening + 1, len(text)):
        if text[index] in closers:
            return _Quoted(text[opening + 1 : index].strip(), index + 1)
    raise UsageError("usage.unclosed_quote", {"quote": text[opening]})


def _kind_of(word: _Word) -> str | None:
    # "call:" and "電話、" read naturally as the kind followed by the summary.
    return loggable_kind(word.key.rstrip(":,、"))


def _parse_log(text: str, start: int) -> Log:
    quoted = _quoted_customer(text, start)
    if quoted is not None:
        if not quoted.name:
            raise UsageError("usage.log", {"missing": "customer"})
        customer = quoted.name
        words = _words(text, quoted.after)
        if not words:
            raise UsageError("usage.log", {"missing": "kind"})
        kind_word = words[0]
        kind = _kind_of(kind_word)
        if kind is None:
            raise UsageError("usage.unknown_kind", {"kind": text[kind_word.start : kind_word.end]})
    else:
        words = _words(text, start)
        if not words:
            raise UsageError("usage.log", {"missing": "customer"})
        kind_at, kind = _first_kind_after_name(text, words)
        kind_word = words[kind_at]
        customer = text[words[0].start : words[kind_at - 1].end]
    summary = _rest(text, kind_word.end)
    if not summary:
        raise UsageError("usage.log", {"missing": "summary"})
    return Log(customer=customer, kind=kind, summary=summary)


def _first_kind_after_name(text: str, words: list[_Word]) -> tuple[int, str]:
    """The first kind word after at least one name word, with the kind it stands for."""
    for index in range(1, len(words)):
        kind = _kind_of(words[index])
        if kind is not None:
            return index, kind
    refused = next((word for word in words[1:] if word.key in PURCHASE_WORDS), None)
    if refused is not None:
        # "log Acme purchase …": say that purchases cannot be logged here, not that a kind is missing.
        raise UsageError("usage.unknown_kind", {"kind": text[refused.start : refused.end]})
    if _kind_of(words[0]) is not None:
        raise UsageError("usage.log", {"missing": "customer"})
    if len(words) > 1 and _IDENTIFIER.search(words[0].key):
        # An id, e-mail or phone ("log C1-00001 fax hello") is the whole customer, so the next word
        # stands where the kind belongs: name it, rather than say that a kind is missing.
        raise UsageError("usage.unknown_kind", {"kind": text[words[1].start : words[1].end]})
    raise UsageError("usage.log", {"missing": "kind"})


@dataclass(frozen=True, slots=True)
class _When:
    """A date phrase found among the words: the words it spans and the date it names."""

    first: int
    last: int
    due_on: dt.date


def _when_at(text: str, words: list[_Word], index: int, today: dt.date) -> _When | None:
    """The longest phrase of up to four words starting at ``index`` that names a date."""
    for last in range(min(index + _MAX_WHEN_WORDS, len(words)) - 1, index - 1, -1):
        due_on = resolve_when(text[words[index].start : words[last].end], today=today)
        if due_on is not None:
            return _When(index, last, due_on)
    return None


def _parse_follow_up(text: str, start: int, today: dt.date) -> SetFollowUp:
    quoted = _quoted_customer(text, start)
    if quoted is not None:
        if not quoted.name:
            raise UsageError("usage.followup", {"missing": "customer"})
        customer = quoted.name
        words = _words(text, quoted.after)
        if not words:
            raise UsageError("usage.followup", {"missing": "when"})
        when = _when_at(text, words, 0, today)
        if when is None:
            raise UsageError("usage.bad_when", {"when": _rest(text, quoted.after)})
    else:
        words = _words(text, start)
        if not words:
            raise UsageError("usage.followup", {"missing": "customer"})
        when = _earliest_when_after_name(text, words, today)
        customer = text[words[0].start : words[when.first - 1].end]
    phrase = text[words[when.first].start : words[when.last].end]
    _check_due_date(phrase, when.due_on, today)
    note = _rest(text, words[when.last].end)
    return SetFollowUp(customer=customer, due_on=when.due_on, note=note)


def _earliest_when_after_name(text: str, words: list[_Word], today: dt.date) -> _When:
    for index in range(1, min(len(words), MAX_UNQUOTED_NAME_WORDS + 1)):
        when = _when_at(text, words, index, today)
        if when is not None:
            return when
    if _when_at(text, words, 0, today) is not None:
        raise UsageError("usage.followup", {"missing": "customer"})
    if len(words) == 1:
        raise UsageError("usage.followup", {"missing": "when"})
    raise UsageError("usage.bad_when", {"when": _rest(text, words[0].end)})


def _check_due_date(phrase: str, due_on: dt.date, today: dt.date) -> None:
    """Refuse past and far-future dates with a reason, rather than reading the phrase as no date."""
    if due_on < today:
        raise UsageError("usage.when_past", {"when": phrase, "date": due_on.isoformat()})
    latest = latest_due_date(today=today)
    if due_on > latest:
        raise UsageError(
            "usage.when_too_far",
            {"when": phrase, "date": due_on.isoformat(), "latest": latest.isoformat()},
        )
