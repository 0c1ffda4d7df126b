"""``parse_command``: the ``/crm`` grammar, its error keys, and properties over arbitrary text."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.parsing.grammar import (
    KIND_ALIASES,
    LOGGABLE_KINDS,
    MAX_COMMAND_CHARS,
    USAGE_KEYS,
    USAGE_PARAMS,
    Command,
    Find,
    Help,
    Log,
    LogThread,
    Mine,
    SetFollowUp,
    SetRole,
    ShowAudit,
    UsageError,
    parse_command,
    parse_mention,
)
from crm_core.models import INTERACTION_KINDS

TODAY = dt.date(2026, 11, 25)  # a Wednesday


def parse(text: str) -> Command:
    return parse_command(text, today=TODAY)


def usage_error(text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        parse(text)
    return caught.value


# --- help, find, mine, admin ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "help", "HELP", "Help me", "ヘルプ", "?", "？"])
def test_help(text: str) -> None:
    assert parse(text) == Help()


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("find Acme", "Acme"),
        ("FIND Acme Corp", "Acme Corp"),
        ("検索 山田商事", "山田商事"),
        ("find bob@example.com", "bob@example.com"),
        ("find +81 90-1234-5678", "+81 90-1234-5678"),
        ('find "Acme Corp"', "Acme Corp"),
        ("Acme Corp", "Acme Corp"),
        ("  山田商事  ", "山田商事"),
        ("bob@example.com", "bob@example.com"),
        # Quoting a sub-command word looks it up instead of running it
        ('"log"', "log"),
        ("「自分」", "自分"),
        # Originals are kept: the identity matcher does its own forgiving normalisation
        ("Ａｃｍｅ", "Ａｃｍｅ"),
    ],
)
def test_find(text: str, query: str) -> None:
    assert parse(text) == Find(query)


@pytest.mark.parametrize("text", ["find   ", 'find ""', '""', "「 」"])
def test_find_needs_a_query(text: str) -> None:
    error = usage_error(text)
    assert (error.key, error.params) == ("usage.find", {})


@pytest.mark.parametrize("text", ["mine", "MINE", "自分", " mine "])
def test_mine(text: str) -> None:
    assert parse(text) == Mine()


def test_mine_takes_no_arguments() -> None:
    error = usage_error("mine overdue only")
    assert (error.key, error.params) == ("usage.mine", {"extra": "overdue only"})


def test_admin_role_takes_a_mention_as_slack_sends_it_or_a_user_id() -> None:
    assert parse("admin role <@U123ABC|sam> Manager") == SetRole("U123ABC", "manager")
    assert parse("Admin ロール <@W0ABC> support") == SetRole("W0ABC", "support")
    assert parse("admin role U123ABC admin") == SetRole("U123ABC", "admin")


def test_admin_audit_takes_a_customer_quoted_or_not() -> None:
    assert parse('admin audit "Acme Corp"') == ShowAudit("Acme Corp")
    assert parse("admin 監査 Acme Corp") == ShowAudit("Acme Corp")


@pytest.mark.parametrize(
    ("text", "key", "params"),
    [
        ("admin", "usage.admin", {}),
        ("admin grant U123ABC manager", "usage.admin", {}),
        ("admin role sam manager", "usage.admin", {}),
        ("admin role <@U123ABC>", "usage.admin", {}),
        ("admin role <@U123ABC> boss", "usage.admin_role", {"role": "boss"}),
        ("admin audit", "usage.admin_audit", {}),
    ],
)
def test_admin_mistakes_say_how_to_use_it(text: str, key: str, params: dict[str, str]) -> None:
    error = usage_error(text)
    assert (error.key, error.params) == (key, params)


# --- log --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("log Acme call Discussed pricing", Log("Acme", "call", "Discussed pricing")),
        ('log "Acme Inc." call Discussed pricing', Log("Acme Inc.", "call", "Discussed pricing")),
        ("log “Acme Inc.” meeting Went well", Log("Acme Inc.", "meeting", "Went well")),
        ("log 'Acme Inc.' note x", Log("Acme Inc.", "note", "x")),
        ("log 「山田 商事」 電話 見積もり送付", Log("山田 商事", "call", "見積もり送付")),
        ("log 『山田商事』 メール 見積もり", Log("山田商事", "email", "見積もり")),
        # Unquoted multi-word names end at the first kind word after them
        ("log Acme Corp meeting Went well", Log("Acme Corp", "meeting", "Went well")),
        ("log Call Center Inc call Went well", Log("Call Center Inc", "call", "Went well")),
        ("log Acme call Talked about the email thread", Log("Acme", "call", "Talked about the email thread")),
        # Quoted names may hold kind words
        ('log "Email Express" chat hi', Log("Email Express", "chat", "hi")),
        ("記録 山田商事 電話 見積もり", Log("山田商事", "call", "見積もり")),
        ("LOG Acme CALL hi", Log("Acme", "call", "hi")),
        ("log Acme call: hi", Log("Acme", "call", "hi")),
        # Full-width keywords are folded; the user's own words are not
        ("ＬＯＧ\u3000Ａｃｍｅ\u3000ＣＡＬＬ\u3000ｈｉ　there", Log("Ａｃｍｅ", "call", "ｈｉ　there")),
        ("log Acme call line one\nline two", Log("Acme", "call", "line one\nline two")),
    ],
)
def test_log(text: str, expected: Log) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("alias", "kind"), sorted(KIND_ALIASES.items()))
def test_every_kind_alias_logs_its_kind(alias: str, kind: str) -> None:
    assert parse(f"log Acme {alias} summary") == Log("Acme", kind, "summary")


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("meet", "meeting"),
        ("mail", "email"),
        ("E-Mail", "email"),
        ("ticket", "support"),
        ("電話", "call"),
        ("面談", "meeting"),
        ("打ち合わせ", "meeting"),
        ("打合せ", "meeting"),
        ("ミーティング", "meeting"),
        ("ﾐｰﾃｨﾝｸﾞ", "meeting"),
        ("メール", "email"),
        ("チャット", "chat"),
        ("メモ", "note"),
        ("サポート", "support"),
        ("問い合わせ", "support"),
    ],
)
def test_the_documented_aliases(alias: str, kind: str) -> None:
    assert parse(f"log Acme {alias} summary") == Log("Acme", kind, "summary")


def test_kinds_are_the_models_minus_purchase() -> None:
    assert set(LOGGABLE_KINDS) == set(INTERACTION_KINDS) - {"purchase"}
    assert set(KIND_ALIASES.values()) == set(LOGGABLE_KINDS)
    assert "purchase" not in KIND_ALIASES
    assert all(alias in KIND_ALIASES for alias in LOGGABLE_KINDS)


@pytest.mark.parametrize(
    ("text", "key", "params"),
    [
        ("log", "usage.log", {"missing": "customer"}),
        ("log call Discussed pricing", "usage.log", {"missing": "customer"}),
        ('log "" call x', "usage.log", {"missing": "customer"}),
        ("log Acme", "usage.log", {"missing": "kind"}),
        ("log Acme Corp Discussed pricing", "usage.log", {"missing": "kind"}),
        ('log "Acme"', "usage.log", {"missing": "kind"}),
        ("log Acme call", "usage.log", {"missing": "summary"}),
        ('log "Acme" call   ', "usage.log", {"missing": "summary"}),
        ('log "Acme" cal Discussed', "usage.unknown_kind", {"kind": "cal"}),
        ("log Acme purchase bought 3", "usage.unknown_kind", {"kind": "purchase"}),
        # An id, e-mail or phone is the whole customer: the word after it is a kind that is not one.
        ("log C1-00001 fax hello", "usage.unknown_kind", {"kind": "fax"}),
        ("log ann@acme.example fax", "usage.unknown_kind", {"kind": "fax"}),
        ("log 090-1111-2222 ファックス 送った", "usage.unknown_kind", {"kind": "ファックス"}),
        ('log "Acme Inc call x', "usage.unclosed_quote", {"quote": '"'}),
        ("log 「Acme call x", "usage.unclosed_quote", {"quote": "「"}),
    ],
)
def test_log_mistakes(text: str, key: str, params: dict[str, str]) -> None:
    error = usage_error(text)
    assert (error.key, error.params) == (key, params)


# --- followup ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("followup Acme tomorrow call back", SetFollowUp("Acme", dt.date(2026, 11, 26), "call back")),
        ("follow-up Acme in 3 days", SetFollowUp("Acme", dt.date(2026, 11, 28), "")),
        ("fu Acme 2w send deck", SetFollowUp("Acme", dt.date(2026, 12, 9), "send deck")),
        ("FU Acme 3d", SetFollowUp("Acme", dt.date(2026, 11, 28), "")),
        ("followup Acme Corp next fri demo", SetFollowUp("Acme Corp", dt.date(2026, 11, 27), "demo")),
        ("followup Acme Corp next friday demo", SetFollowUp("Acme Corp", dt.date(2026, 11, 27), "demo")),
        ("followup Acme 2026-12-01 renewal", SetFollowUp("Acme", dt.date(2026, 12, 1), "renewal")),
        ('followup "Acme Inc." in 2 weeks x', SetFollowUp("Acme Inc.", dt.date(2026, 12, 9), "x")),
        # Quoted names may contain dates
        ('followup "Friday Foods" friday x', SetFollowUp("Friday Foods", dt.date(2026, 11, 27), "x")),
        # The earliest date wins over a later one in the note
        ("followup Acme friday then tomorrow", SetFollowUp("Acme", dt.date(2026, 11, 27), "then tomorrow")),
        # A name that starts with a date word: the name needs at least one word
        ("followup Friday Foods tomorrow", SetFollowUp("Friday Foods", dt.date(2026, 11, 26), "")),
        ("followup May Foods tomorrow", SetFollowUp("May Foods", dt.date(2026, 11, 26), "")),
        ("followup Acme 2 tomorrow x", SetFollowUp("Acme 2", dt.date(2026, 11, 26), "x")),
        # A time of day stays in the note rather than being dropped
        ("followup Acme tomorrow 5pm call", SetFollowUp("Acme", dt.date(2026, 11, 26), "5pm call")),
        # Japanese
        ("フォロー 山田商事 明日 電話する", SetFollowUp("山田商事", dt.date(2026, 11, 26), "電話する")),
        ("フォロー 山田商事 来週 金曜 見積もり", SetFollowUp("山田商事", dt.date(2026, 12, 4), "見積もり")),
        (
            "フォロー 山田商事 来週の金曜日 見積もり",
            SetFollowUp("山田商事", dt.date(2026, 12, 4), "見積もり"),
        ),
        ("フォロー 「山田 商事」 3日後 連絡", SetFollowUp("山田 商事", dt.date(2026, 11, 28), "連絡")),
        (
            "フォロー\u3000山田商事\u3000来週\u3000見積もり",
            SetFollowUp("山田商事", dt.date(2026, 11, 30), "見積もり"),
        ),
        (
            "ＦＯＬＬＯＷＵＰ Ａｃｍｅ ｔｏｍｏｒｒｏｗ ｈｉ",
            SetFollowUp("Ａｃｍｅ", dt.date(2026, 11, 26), "ｈｉ"),
        ),
        ("followup Acme 12/4(金) 訪問", SetFollowUp("Acme", dt.date(2026, 12, 4), "訪問")),
    ],
)
def test_followup(text: str, expected: SetFollowUp) -> None:
    assert parse(text) == expected


def test_followup_takes_the_longest_date_phrase_at_the_earliest_position() -> None:
    # "in" alone is no date; "in 2 weeks" is, and must not be read as the name "Acme in".
    assert parse("followup Acme in 2 weeks ok") == SetFollowUp("Acme", dt.date(2026, 12, 9), "ok")
    # "next week friday" beats "next week" starting at the same word.
    assert parse("followup Acme next week friday ok") == SetFollowUp("Acme", dt.date(2026, 12, 4), "ok")


def test_long_unquoted_names_must_be_quoted() -> None:
    eight = "A B C D E F G H"
    assert parse(f"followup {eight} tomorrow").customer == eight  # type: ignore[union-attr]
    error = usage_error(f"followup {eight} I tomorrow")
    assert error.key == "usage.bad_when"
    assert parse(f'followup "{eight} I" tomorrow').customer == f"{eight} I"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "key", "params"),
    [
        ("followup", "usage.followup", {"missing": "customer"}),
        ("followup tomorrow", "usage.followup", {"missing": "customer"}),
        ("followup tomorrow call back", "usage.followup", {"missing": "customer"}),
        ('followup "" tomorrow', "usage.followup", {"missing": "customer"}),
        ("followup Acme", "usage.followup", {"missing": "when"}),
        ('followup "Acme Corp"', "usage.followup", {"missing": "when"}),
        ("followup Acme someday call", "usage.bad_when", {"when": "someday call"}),
        ('followup "Acme" soon-ish call', "usage.bad_when", {"when": "soon-ish call"}),
        ('followup "Acme" call tomorrow', "usage.bad_when", {"when": "call tomorrow"}),
        ("followup Acme 25/12 x", "usage.bad_when", {"when": "25/12 x"}),
        ("followup Acme yesterday x", "usage.when_past", {"when": "yesterday", "date": "2026-11-24"}),
        ("followup Acme 2020-01-01", "usage.when_past", {"when": "2020-01-01", "date": "2020-01-01"}),
        ("フォロー 山田商事 昨日 x", "usage.when_past", {"when": "昨日", "date": "2026-11-24"}),
        (
            "followup Acme in 10 years x",
            "usage.when_too_far",
            {"when": "in 10 years", "date": "2036-11-25", "latest": "2031-11-25"},
        ),
        ("followup 'Acme tomorrow", "usage.unclosed_quote", {"quote": "'"}),
    ],
)
def test_followup_mistakes(text: str, key: str, params: dict[str, str]) -> None:
    error = usage_error(text)
    assert (error.key, error.params) == (key, params)


# --- limits and the error contract -------------------------------------------------------------------


def test_text_over_the_limit_is_refused_before_parsing() -> None:
    assert MAX_COMMAND_CHARS == 3000
    at_limit = "log Acme call " + "x" * (MAX_COMMAND_CHARS - len("log Acme call "))
    assert parse(at_limit) == Log("Acme", "call", "x" * (MAX_COMMAND_CHARS - len("log Acme call ")))
    error = usage_error(at_limit + "x")
    assert (error.key, error.params) == ("usage.too_long", {"max": "3000"})
    assert usage_error("help" + " " * MAX_COMMAND_CHARS).key == "usage.too_long"


def test_usage_keys_are_documented_with_their_params() -> None:
    assert tuple(USAGE_PARAMS) == USAGE_KEYS
    assert all(key.startswith("usage.") for key in USAGE_KEYS)
    with pytest.raises(ValueError):
        UsageError("usage.nonsense", {})
    with pytest.raises(ValueError):
        UsageError("usage.log", {})
    assert UsageError("usage.log", {"missing": "kind"}).params == {"missing": "kind"}


def test_commands_are_frozen() -> None:
    command = parse("log Acme call hi")
    with pytest.raises(AttributeError):
        command.summary = "changed"  # type: ignore[misc, union-attr]


# --- properties -------------------------------------------------------------------------------------

_COMMAND_WORDS = st.sampled_from(
    [
        "log", "find", "followup", "fu", "mine", "help", "admin", "記録", "フォロー", "自分", "ＬＯＧ",
        "call", "電話", "meeting", "purchase", "tomorrow", "next", "fri", "in", "3", "days", "来週",
        "金曜", "2026-12-01", "yesterday", "dec", "1", '"', "'", "「", "」", "“", "”", "Acme", "🎉", "\u3000",
    ]
)  # fmt: skip
_COMMAND_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_COMMAND_WORDS, st.text(max_size=8)), max_size=12).map(" ".join),
)


def _check_command_or_usage_error(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as error:
        assert error.key in USAGE_KEYS
        assert set(error.params) == set(USAGE_PARAMS[error.key])
        assert all(isinstance(value, str) for value in error.params.values())
        return
    assert isinstance(command, get_args(Command))  # one of the commands the app routes
    if isinstance(command, Log):
        assert command.customer and command.summary and command.kind in LOGGABLE_KINDS
    if isinstance(command, SetFollowUp):
        assert command.customer
        assert TODAY <= command.due_on <= dt.date(2031, 11, 25)
    if isinstance(command, Find):
        assert command.query


@settings(max_examples=500, deadline=None)
@given(text=_COMMAND_TEXT)
def test_any_text_is_a_command_or_a_usage_error(text: str) -> None:
    _check_command_or_usage_error(text)


_QUOTE_PAIRS = [('"', '"'), ("“", "”"), ("'", "'"), ("「", "」"), ("『", "』")]
_CLOSERS = {'"': '"”“', "“": '”"“', "'": "'", "「": "」", "『": "』"}


@settings(max_examples=300, deadline=None)
@given(pair=st.sampled_from(_QUOTE_PAIRS), name=st.text(min_size=1, max_size=60))
def test_a_quoted_name_round_trips(pair: tuple[str, str], name: str) -> None:
    opening, closing = pair
    assume(name.strip() and not any(char in _CLOSERS[opening] for char in name))
    assert parse(f"log {opening}{name}{closing} call hi") == Log(name.strip(), "call", "hi")
    followup = parse(f"followup {opening}{name}{closing} tomorrow note")
    assert followup == SetFollowUp(name.strip(), dt.date(2026, 11, 26), "note")


@pytest.mark.parametrize(
    "summary",
    [
        "見積もりを送付しました 🎉👍",
        "'; DROP TABLE customers; --",
        "Robert'); DELETE FROM interactions WHERE 1=1;--",
        "<script>alert(1)</script> & <@U123> *bold*",
        "ＡＢＣ　１２３　ｶﾀｶﾅ",
        "tomorrow next fri 2026-12-01",
        "call meeting email",
        '"quoted" and 「括弧」 and unbalanced "',
        "multi\nline\ttabs",
    ],
)
def test_summaries_and_notes_are_kept_literally(summary: str) -> None:
    assert parse(f"log Acme call {summary}") == Log("Acme", "call", summary)
    assert parse(f'followup "Acme" 2026-12-01 {summary}') == SetFollowUp(
        "Acme", dt.date(2026, 12, 1), summary
    )


@settings(max_examples=300, deadline=None)
@given(summary=st.text(min_size=1, max_size=300))
def test_any_summary_round_trips(summary: str) -> None:
    assume(summary.strip())
    assert parse(f"log Acme meeting {summary}") == Log("Acme", "meeting", summary.strip())
    # A note follows the date; a fixed first word keeps it from being read as part of the date.
    note = f"memo {summary}".strip()
    assert parse(f"followup Acme 2026-12-01 {note}") == SetFollowUp("Acme", dt.date(2026, 12, 1), note)


@pytest.mark.parametrize(
    ("text", "customer"),
    [
        ("log Acme", "Acme"),
        ("LOG   Acme Corp  ", "Acme Corp"),
        ('log "Acme Corp"', "Acme Corp"),
        ("記録 「山田商事」", "山田商事"),
        ("log call Acme", "call Acme"),  # no kind here: everything after log is the customer
    ],
)
def test_a_mention_logs_the_thread_to_the_customer_named(text: str, customer: str) -> None:
    assert parse_mention(text) == LogThread(customer)


@pytest.mark.parametrize("text", ["", "log", 'log ""', "hello there", "find Acme", "logAcme"])
def test_a_mention_that_is_not_log_customer_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_mention(text)
    assert (raised.value.key, raised.value.params) == ("usage.mention", {})
