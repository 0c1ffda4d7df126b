"""Turn what a sales rep types as "when" into a due date.

Follow-ups are dates, not instants, and "call back in 3 days" must take seconds to type, so this module
reads the short forms reps actually use in English and Japanese. It never reads the clock: the caller
passes ``today`` already converted to the user's own time zone, which keeps every answer a pure
function of (text, today) and therefore testable and identical on every replica.

Reading order, and why:

1. The text is NFKC-normalised (full-width digits, letters and spaces become ASCII), case-folded, and
   stripped of framing words that do not change the date ("by", "on", "due", "まで", "までに", "に",
   "頃", "ごろ", trailing punctuation).
2. Our own rules are tried first. They are fast (no import, microseconds) and they fix the forms where
   dateparser 1.5 answers wrongly or not at all: it reads ``12月1日`` as 2112-01-25, ``1日`` as
   tomorrow, ``next week`` as today + 7, ``2 weeks from today`` as two weeks *ago*, and returns nothing
   for ``来週金曜``, ``金曜``, ``1ヶ月後`` or ``2w``. A text shaped like one of our rules gets our
   answer, even when that answer is "no date" (``2026-02-30``), so dateparser never second-guesses it.
3. Only English phrases made entirely of date words (numbers, units, month and weekday names, "in",
   "from now", "ago", ...) go to dateparser, because it happily reads ordinary words as dates ("a" is
   January, "we" is Wednesday, "may" is May, "3" is March). Results that carry a time of day are
   refused: a follow-up is due on a day, and in the ``/crm followup`` grammar the time then stays in
   the note instead of being silently dropped.

Semantics chosen (weeks start on Monday, as in ISO 8601 and Japanese business calendars):

- ``today``/``今日``/``本日``; ``tomorrow``/``tmrw``/``明日``/``あした``/``あす``;
  ``day after tomorrow``/``明後日``/``あさって``; ``yesterday``/``昨日`` (past, so refused).
- ``in 3 days``, ``3 days``, ``3d``, ``+3d``, ``3日後``, ``三日後``; likewise weeks (``2w``, ``2週間後``),
  months (``1mo``, ``1ヶ月後``/``1か月後``/``1カ月後``) and years (``1y``, ``1年後``). Adding months
  clamps to the month's end (Jan 31 + 1 month = Feb 28/29). ``3m`` is refused (minutes or months?).
- A weekday alone or with "next"/"coming"/"on" (``fri``, ``friday``, ``next fri``, ``金曜``,
  ``金曜日``, ``次の金曜``) is the first such day strictly after today: on a Wednesday, ``next fri`` is
  in two days, and on a Friday, ``friday`` is a week away. "This"/``今週`` names the day in the current
  week (possibly past, so refused).
- ``next week``/``来週`` is the Monday of next week; ``来週金曜``/``来週の金曜日``/``friday next week``
  is that weekday in next week (so, on a Wednesday, ``来週金曜`` is nine days away while ``next fri`` is
  two); ``再来週``/``the week after next`` is two weeks on.
- ``next month``/``来月`` is the 1st of next month; ``来月15日`` is the 15th of next month;
  ``end of month``/``eom``/``月末``/``今月末`` is the last day of this month, ``来月末`` of next month.
- ``2026-12-01``, ``2026/12/01``, ``2026.12.01``, ``2026年12月1日`` are dates as written.
- Month/day without a year (``12/01``, ``12-01``, ``12月1日``, ``dec 1``, ``1 december``) is the next
  such day on or after today (so ``11/25`` on Nov 25 is today). Numbers are read month first, as in
  Japan and the US; day-first forms such as ``25/12`` and any ``a/b/yyyy`` are refused rather than
  guessed, because ``03/04`` means different days to different readers. A weekday in brackets
  (``12/4(金)``, ``12月4日（金）``) must agree with the date, or the text is refused.
- ``15日`` is the next 15th on or after today.
- Phrases left to dateparser keep its meaning: ``in a week``, ``a week from now``, ``in three days``,
  ``dec 1`` (read as above, on or after today), ``next year`` (this day next year), ``last friday``.

``parse_when`` refuses dates before ``today`` and more than ``MAX_YEARS_AHEAD`` years after it;
``resolve_when`` gives the date even then, so the command grammar can say *why* a date was refused.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

__all__ = ["MAX_YEARS_AHEAD", "latest_due_date", "parse_when", "resolve_when", "warm_up"]

MAX_YEARS_AHEAD: Final = 5
"""A follow-up further out than this is almost certainly a typo (2062 for 2026)."""

_MAX_PHRASE_CHARS: Final = 80
"""Longer texts are never a date; the limit also bounds regex and dateparser work."""

# Settings the brief fixes for dateparser; RELATIVE_BASE is added per call from ``today``.
_DATEPARSER_LANGUAGES: Final = ["en", "ja"]
_DATEPARSER_SETTINGS: Final[dict[str, Any]] = {
    "PREFER_DATES_FROM": "future",
    # Makes dateparser label "5pm" or "noon" with period "time", which we refuse (see module doc).
    "RETURN_TIME_AS_PERIOD": True,
}


def parse_when(text: str, *, today: dt.date) -> dt.date | None:
    """The due date ``text`` names, or None if it names none, a past day, or one too far ahead."""
    due = resolve_when(text, today=today)
    if due is None or not today <= due <= latest_due_date(today=today):
        return None
    return due


def resolve_when(text: str, *, today: dt.date) -> dt.date | None:
    """The date ``text`` names, even in the past or far future, so a caller can explain a refusal."""
    if isinstance(today, dt.datetime):
        # A datetime here means the caller skipped the time-zone conversion the contract asks for.
        raise TypeError("today must be a date in the user's time zone, not a datetime")
    phrase = _normalise(text)
    if not phrase or len(phrase) > _MAX_PHRASE_CHARS:
        return None
    return _resolve(phrase, today)


def latest_due_date(*, today: dt.date) -> dt.date:
    """The last day ``parse_when`` accepts, ``MAX_YEARS_AHEAD`` years after ``today``."""
    latest = _add_months(today, 12 * MAX_YEARS_AHEAD)
    return latest if latest is not None else dt.date.max


def warm_up() -> None:
    """Import dateparser and load its English and Japanese data now, not during a user's command.

    The first dateparser call costs a few hundred milliseconds; an app that must acknowledge a Slack
    command within three seconds can call this at start-up.
    """
    _ask_dateparser("in 2 days", dt.date(2000, 1, 1))


# --- normalisation ----------------------------------------------------------------------------------

_NON_ASCII_SPACE = re.compile(r"\s*([^\x00-\x7f])\s*")
_FRAMING_PREFIX = re.compile(r"^(?:by|on|due|until|till)\s+")
_FRAMING_SUFFIX = re.compile(r"(?:までに|まで|頃|ごろ|に)$")
_TRAILING_PUNCTUATION = ".,;:!?、。"


def _normalise(text: str) -> str:
    """Fold width, case and spacing so each rule below needs only one spelling."""
    phrase = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    # Japanese is written without spaces; "来週 金曜" and "3 日後" mean "来週金曜" and "3日後".
    phrase = _NON_ASCII_SPACE.sub(r"\1", phrase)
    phrase = phrase.rstrip(_TRAILING_PUNCTUATION).strip()
    phrase = _FRAMING_PREFIX.sub("", phrase)
    # dateparser reads "2 weeks from today" as two weeks ago; "from now" means the same.
    phrase = phrase.replace("from today", "from now")
    return _FRAMING_SUFFIX.sub("", phrase)


# --- date arithmetic --------------------------------------------------------------------------------


def _add_days(day: dt.date, days: int) -> dt.date | None:
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


def _add_months(day: dt.date, months: int) -> dt.date | None:
    """Calendar months later, clamped to the month's end; None beyond the calendar's range."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return None
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _month_start(day: dt.date, months_ahead: int) -> dt.date | None:
    return _add_months(day.replace(day=1), months_ahead)


def _month_end(day: dt.date, months_ahead: int) -> dt.date | None:
    start = _month_start(day, months_ahead)
    if start is None:
        return None
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _weekday_in_week(today: dt.date, weekday: int, weeks_ahead: int) -> dt.date | None:
    """``weekday`` (Monday = 0) of the week ``weeks_ahead`` after today's week."""
    return _add_days(today, 7 * weeks_ahead + weekday - today.weekday())


def _next_weekday(today: dt.date, weekday: int) -> dt.date | None:
    """The first ``weekday`` strictly after today."""
    return _add_days(today, (weekday - today.weekday() - 1) % 7 + 1)


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _next_month_day(today: dt.date, month: int, day: int) -> dt.date | None:
    """The next ``month``/``day`` on or after today; Feb 29 waits for a leap year."""
    for year in range(today.year, min(today.year + 9, dt.MAXYEAR + 1)):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _next_day_of_month(today: dt.date, day: int) -> dt.date | None:
    """The next ``day``-th of a month on or after today, skipping months too short for it."""
    for months_ahead in range(13):
        start = _month_start(today, months_ahead)
        candidate = None if start is None else _safe_date(start.year, start.month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


# --- our own rules ----------------------------------------------------------------------------------

_EN_WEEKDAYS: Final = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "weds": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip
_JA_WEEKDAYS: Final = "月火水木金土日"
_EN_WD = "(" + "|".join(sorted(_EN_WEEKDAYS, key=len, reverse=True)) + ")"
_JA_WD = f"([{_JA_WEEKDAYS}])"
_JA_WD_WORD = _JA_WD + "曜日?"  # 金曜, 金曜日 — a bare 金 alone is "money", so 曜 is required
_JA_WD_AFTER_WEEK = _JA_WD + "(?:曜日?)?"  # after 来週/今週, 来週金 is unambiguous
_BRACKETED_WD = rf"(?: ?\({_JA_WD}(?:曜日?)?\)| ?\({_EN_WD}\))?"

_KANJI_DIGITS: Final = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_NUMBER = r"(\d{1,4}|[一二三四五六七八九十]{1,3})"

_EN_UNITS: Final = {
    "d": "day", "day": "day", "days": "day",
    "w": "week", "wk": "week", "wks": "week", "week": "week", "weeks": "week",
    "mo": "month", "mos": "month", "month": "month", "months": "month",
    "y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year",
}  # fmt: skip
_JA_UNITS: Final = {
    "日": "day", "週間": "week", "週": "week",
    "ヶ月": "month", "ヵ月": "month", "か月": "month", "カ月": "month", "ケ月": "month", "箇月": "month",
    "年": "year",
}  # fmt: skip
_EN_UNIT = "(" + "|".join(sorted(_EN_UNITS, key=len, reverse=True)) + ")"
_JA_UNIT = "(" + "|".join(sorted(_JA_UNITS, key=len, reverse=True)) + ")"


def _number(text: str) -> int | None:
    """Arabic digits or a kanji numeral up to 99 (三, 十, 十五, 二十)."""
    if text.isdigit():
        return int(text)
    tens, ten, ones = text.partition("十")
    if not ten:
        return _KANJI_DIGITS.get(text)
    tens_value = _KANJI_DIGITS.get(tens) if tens else 1
    ones_value = _KANJI_DIGITS.get(ones) if ones else 0
    if tens_value is None or ones_value is None:
        return None
    return tens_value * 10 + ones_value


def _offset(today: dt.date, count: int, unit: str) -> dt.date | None:
    if unit == "day":
        return _add_days(today, count)
    if unit == "week":
        return _add_days(today, 7 * count)
    if unit == "month":
        return _add_months(today, count)
    return _add_months(today, 12 * count)


def _weekday_index(name: str) -> int:
    return _EN_WEEKDAYS[name] if name in _EN_WEEKDAYS else _JA_WEEKDAYS.index(name)


def _check_bracketed(date: dt.date | None, ja: str | None, en: str | None) -> dt.date | None:
    """A date followed by a weekday in brackets stands only if they agree (12/4(金))."""
    name = ja or en
    if date is None or name is None:
        return date
    return date if date.weekday() == _weekday_index(name) else None


_Handler = Callable[[re.Match[str], dt.date], dt.date | None]
_RULES: list[tuple[re.Pattern[str], _Handler]] = []
"""Tried in order; the first pattern that matches the whole phrase decides, even if it says None."""


def _rule(pattern: str) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        # ASCII: \d is 0-9 only, so int() always works and no exotic digit reaches date arithmetic.
        _RULES.append((re.compile(pattern, re.ASCII), handler))
        return handler

    return register


@_rule(rf"(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_BRACKETED_WD}")
def _iso(m: re.Match[str], today: dt.date) -> dt.date | None:
    date = _safe_date(int(m[1]), int(m[2]), int(m[3]))
    return _check_bracketed(date, m[4], m[5])


@_rule(rf"(\d{{4}})年(\d{{1,2}})月(\d{{1,2}})日?{_BRACKETED_WD}")
def _ja_full(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _check_bracketed(_safe_date(int(m[1]), int(m[2]), int(m[3])), m[4], m[5])


@_rule(rf"(\d{{1,2}})[-/](\d{{1,2}}){_BRACKETED_WD}")
def _month_day(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _check_bracketed(_next_month_day(today, int(m[1]), int(m[2])), m[3], m[4])


@_rule(rf"(\d{{1,2}})月(\d{{1,2}})日?{_BRACKETED_WD}")
def _ja_month_day(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _check_bracketed(_next_month_day(today, int(m[1]), int(m[2])), m[3], m[4])


@_rule(r"[\d/.\-]+")
def _other_numbers(m: re.Match[str], today: dt.date) -> dt.date | None:
    # Bare numbers and day-first or a/b/yyyy forms: claimed so that dateparser cannot guess.
    return None


@_rule(r"today|本日|今日|きょう")
def _today(m: re.Match[str], today: dt.date) -> dt.date | None:
    return today


@_rule(r"tomorrow|tmrw|tmr|明日|あした|あす")
def _tomorrow(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _add_days(today, 1)


@_rule(r"(?:the )?day after tomorrow|明後日|あさって")
def _day_after_tomorrow(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _add_days(today, 2)


@_rule(r"yesterday|昨日|きのう")
def _yesterday(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _add_days(today, -1)


@_rule(rf"(?:in )?\+?(\d{{1,4}}) ?{_EN_UNIT}(?: later| from now)?")
def _en_offset(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _offset(today, int(m[1]), _EN_UNITS[m[2]])


@_rule(rf"(\d{{1,4}}) ?{_EN_UNIT} ago")
def _en_offset_ago(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _offset(today, -int(m[1]), _EN_UNITS[m[2]])


@_rule(rf"{_NUMBER}{_JA_UNIT}(後|先|前)")
def _ja_offset(m: re.Match[str], today: dt.date) -> dt.date | None:
    count = _number(m[1])
    if count is None:
        return None
    return _offset(today, -count if m[3] == "前" else count, _JA_UNITS[m[2]])


@_rule(rf"(?:(?:next|coming|on) )?{_EN_WD}|(?:次の|今度の)?{_JA_WD_WORD}")
def _next_named_weekday(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _next_weekday(today, _weekday_index(m[1] or m[2]))


@_rule(rf"this {_EN_WD}|今週の?{_JA_WD_AFTER_WEEK}")
def _weekday_this_week(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday_in_week(today, _weekday_index(m[1] or m[2]), 0)


@_rule(rf"next week(?:'s)? {_EN_WD}|{_EN_WD} (?:of )?next week|来週の?{_JA_WD_AFTER_WEEK}")
def _weekday_next_week(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday_in_week(today, _weekday_index(m[1] or m[2] or m[3]), 1)


@_rule(rf"再来週の?{_JA_WD_AFTER_WEEK}")
def _weekday_week_after_next(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday_in_week(today, _weekday_index(m[1]), 2)


@_rule(r"next week|来週")
def _next_week(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday_in_week(today, 0, 1)


@_rule(r"(?:the )?week after next|再来週")
def _week_after_next(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _weekday_in_week(today, 0, 2)


@_rule(r"next month|来月")
def _next_month(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_start(today, 1)


@_rule(r"再来月")
def _month_after_next(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_start(today, 2)


@_rule(r"(?:the )?end of (?:the |this )?month|eom|月末|今月末")
def _end_of_month(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_end(today, 0)


@_rule(r"(?:the )?end of next month|来月末")
def _end_of_next_month(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _month_end(today, 1)


@_rule(r"(今月|来月|再来月)(\d{1,2})日")
def _day_of_named_month(m: re.Match[str], today: dt.date) -> dt.date | None:
    start = _month_start(today, ("今月", "来月", "再来月").index(m[1]))
    return None if start is None else _safe_date(start.year, start.month, int(m[2]))


@_rule(r"(\d{1,2})日")
def _day_of_month(m: re.Match[str], today: dt.date) -> dt.date | None:
    return _next_day_of_month(today, int(m[1]))


# --- dateparser, for the long tail of English phrases ----------------------------------------------

_MONTHS: Final = {
    name: number
    for number in range(1, 13)
    for name in (
        calendar.month_name[number].lower(),
        calendar.month_abbr[number].lower(),
        *(("sept",) if number == 9 else ()),
    )
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMBER_WORDS: Final = _words("one two three four five six seven eight nine ten eleven twelve twenty thirty")
_ORDINAL_WORDS: Final = _words("first second third fourth fifth sixth seventh eighth ninth tenth")
_DP_UNITS: Final = _words("day days week weeks month months year years fortnight fortnights")
_DP_FILLERS: Final = _words("a an in from now after the of on this next coming last ago later and")
_DP_ANCHORS: Final = _DP_UNITS | _MONTHS.keys() | _EN_WEEKDAYS.keys()
_DP_VOCABULARY: Final = _DP_ANCHORS | _DP_FILLERS
_DP_NUMBER_BINDERS: Final = _DP_UNITS | _MONTHS.keys() | {"of"}
_ORDINAL = re.compile(r"[0-9]{1,2}(?:st|nd|rd|th)")


def _is_number_token(token: str) -> bool:
    return (
        (token.isascii() and token.isdigit() and len(token) <= 4)
        or token in _NUMBER_WORDS
        or token in _ORDINAL_WORDS
        or _ORDINAL.fullmatch(token) is not None
    )


def _worth_asking_dateparser(phrase: str) -> bool:
    """Only phrases made of date words, anchored by a unit, month or weekday, with no stray numbers.

    "tomorrow 3" would otherwise lose its 3 to dateparser, and "may" or "a" become a date.
    """
    tokens = [token.strip(",") for token in phrase.split(" ")]
    if not all(token in _DP_VOCABULARY or _is_number_token(token) for token in tokens):
        return False
    if not any(token in _DP_ANCHORS for token in tokens):
        return False
    has_month = any(token in _MONTHS for token in tokens)
    day_numbers = [t for t in tokens if _is_number_token(t) and not (t.isdigit() and len(t) == 4)]
    if has_month and not day_numbers:
        return False  # "december" alone is a month, not a day
    for index, token in enumerate(tokens):
        if not _is_number_token(token):
            continue
        is_year = token.isdigit() and len(token) == 4 and has_month
        neighbours = tokens[max(index - 1, 0) : index] + tokens[index + 1 : index + 2]
        if not is_year and not any(neighbour in _DP_NUMBER_BINDERS for neighbour in neighbours):
            return False
    return True


_DATEPARSER_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _dateparser_for(today: dt.date) -> Any:
    """One parser per ``today``; the import happens here, on first use, because it is slow."""
    from dateparser.date import DateDataParser

    base = dt.datetime.combine(today, dt.time())
    settings = {**_DATEPARSER_SETTINGS, "RELATIVE_BASE": base}
    return DateDataParser(languages=_DATEPARSER_LANGUAGES, settings=settings)


def _ask_dateparser(phrase: str, today: dt.date) -> dt.date | None:
    # dateparser has had thread-safety bugs (scrapinghub/dateparser#441, #813); Bolt runs listeners
    # in a thread pool, and a call takes about a millisecond, so serialising costs nothing.
    with _DATEPARSER_LOCK:
        try:
            data = _dateparser_for(today).get_date_data(phrase)
        except (ValueError, OverflowError):
            return None
    found = data.date_obj
    if not isinstance(found, dt.datetime) or data.period == "time":
        return None
    if "year" not in (data.parts or ()):
        # "dec 1": dateparser picks the next Dec 1 strictly after today; keep "on or after" as for 12/1.
        return _next_month_day(today, found.month, found.day)
    return found.date()


# --- entry point for the cache ----------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _resolve(phrase: str, today: dt.date) -> dt.date | None:
    for pattern, handler in _RULES:
        match = pattern.fullmatch(phrase)
        if match is not None:
            return handler(match, today)
    if _worth_asking_dateparser(phrase):
        return _ask_dateparser(phrase, today)
    return None
