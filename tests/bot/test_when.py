"""``parse_when``: every form reps type, the semantics chosen for the ambiguous ones, and refusals.

Today is frozen on Wednesday 2026-11-25 unless a test needs another weekday or a month's edge.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing.when import MAX_YEARS_AHEAD, latest_due_date, parse_when, resolve_when

TODAY = dt.date(2026, 11, 25)  # a Wednesday
assert TODAY.weekday() == 2


def d(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Absolute dates
        ("2026-12-01", d(12, 1)),
        ("2026/12/01", d(12, 1)),
        ("2026.12.1", d(12, 1)),
        ("2026年12月1日", d(12, 1)),
        ("2027-01-05", d(1, 5, 2027)),
        # Month/day without a year: the next one on or after today, month first
        ("12/01", d(12, 1)),
        ("12-01", d(12, 1)),
        ("12/1", d(12, 1)),
        ("12月1日", d(12, 1)),
        ("11/25", TODAY),
        ("11/24", d(11, 24, 2027)),
        ("1/5", d(1, 5, 2027)),
        ("2/29", d(2, 29, 2028)),
        ("12/4(金)", d(12, 4)),
        ("12月4日（金）", d(12, 4)),
        ("2026-12-04 (fri)", d(12, 4)),
        # Day words
        ("today", TODAY),
        ("tomorrow", d(11, 26)),
        ("tmrw", d(11, 26)),
        ("day after tomorrow", d(11, 27)),
        ("今日", TODAY),
        ("本日", TODAY),
        ("明日", d(11, 26)),
        ("あした", d(11, 26)),
        ("明後日", d(11, 27)),
        ("あさって", d(11, 27)),
        # Offsets
        ("in 3 days", d(11, 28)),
        ("3 days", d(11, 28)),
        ("3d", d(11, 28)),
        ("+3d", d(11, 28)),
        ("3 days later", d(11, 28)),
        ("in 2 weeks", d(12, 9)),
        ("2w", d(12, 9)),
        ("1mo", d(12, 25)),
        ("in 1 month", d(12, 25)),
        ("1y", d(11, 25, 2027)),
        ("3日後", d(11, 28)),
        ("三日後", d(11, 28)),
        ("十五日後", d(12, 10)),
        ("2週間後", d(12, 9)),
        ("1ヶ月後", d(12, 25)),
        ("1か月後", d(12, 25)),
        ("1カ月後", d(12, 25)),
        ("1年後", d(11, 25, 2027)),
        ("2 weeks from today", d(12, 9)),
        # Weekdays: the first one strictly after today
        ("fri", d(11, 27)),
        ("friday", d(11, 27)),
        ("next fri", d(11, 27)),
        ("next friday", d(11, 27)),
        ("coming friday", d(11, 27)),
        ("wednesday", d(12, 2)),
        ("next wed", d(12, 2)),
        ("mon", d(11, 30)),
        ("金曜", d(11, 27)),
        ("金曜日", d(11, 27)),
        ("次の金曜", d(11, 27)),
        ("水曜", d(12, 2)),
        # This week's and next week's named day
        ("this fri", d(11, 27)),
        ("今週金曜", d(11, 27)),
        ("来週金曜", d(12, 4)),
        ("来週の金曜日", d(12, 4)),
        ("来週金", d(12, 4)),
        ("来週 金曜", d(12, 4)),
        ("friday next week", d(12, 4)),
        ("next week friday", d(12, 4)),
        ("再来週の月曜", d(12, 7)),
        # Periods: their first day
        ("next week", d(11, 30)),
        ("来週", d(11, 30)),
        ("再来週", d(12, 7)),
        ("the week after next", d(12, 7)),
        ("next month", d(12, 1)),
        ("来月", d(12, 1)),
        ("来月15日", d(12, 15)),
        ("end of month", d(11, 30)),
        ("eom", d(11, 30)),
        ("月末", d(11, 30)),
        ("来月末", d(12, 31)),
        # Day of month alone
        ("15日", d(12, 15)),
        ("25日", TODAY),
        ("30日", d(11, 30)),
        # Framing words that do not change the date
        ("by friday", d(11, 27)),
        ("on 12/1", d(12, 1)),
        ("明日まで", d(11, 26)),
        ("金曜までに", d(11, 27)),
        ("tomorrow.", d(11, 26)),
        # English phrases left to dateparser
        ("dec 1", d(12, 1)),
        ("1 december", d(12, 1)),
        ("december 1st, 2026", d(12, 1)),
        ("the 1st of december", d(12, 1)),
        ("nov 25", TODAY),
        ("in three days", d(11, 28)),
        ("a week from now", d(12, 2)),
        ("in a month", d(12, 25)),
        ("next year", d(11, 25, 2027)),
        ("in 1 week and 2 days", d(12, 4)),
    ],
)
def test_reads_each_form(text: str, expected: dt.date) -> None:
    assert parse_when(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("２０２６－１２－０１", d(12, 1)),
        ("１２／１", d(12, 1)),
        ("ＴＯＭＯＲＲＯＷ", d(11, 26)),
        ("\u3000明日\u3000", d(11, 26)),
        ("３日後", d(11, 28)),
        ("ｉｎ　３　ｄａｙｓ", d(11, 28)),
        ("ＮＥＸＴ ＦＲＩ", d(11, 27)),
        ("  In   3   Days ", d(11, 28)),
    ],
)
def test_folds_width_case_and_spacing(text: str, expected: dt.date) -> None:
    assert parse_when(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("yesterday", d(11, 24)),
        ("昨日", d(11, 24)),
        ("2日前", d(11, 23)),
        ("3 days ago", d(11, 22)),
        ("2020-01-01", d(1, 1, 2020)),
        ("2026-11-24", d(11, 24)),
        ("this monday", d(11, 23)),
        ("今週月曜", d(11, 23)),
        ("last friday", d(11, 20)),
        ("in 6 years", d(11, 25, 2032)),
        ("2031-11-26", d(11, 26, 2031)),
    ],
)
def test_refuses_past_and_far_dates_but_still_resolves_them(text: str, named: dt.date) -> None:
    assert parse_when(text, today=TODAY) is None
    assert resolve_when(text, today=TODAY) == named


def test_the_last_accepted_day_is_five_years_ahead() -> None:
    assert MAX_YEARS_AHEAD == 5
    assert latest_due_date(today=TODAY) == d(11, 25, 2031)
    assert parse_when("2031-11-25", today=TODAY) == d(11, 25, 2031)
    assert parse_when("in 5 years", today=TODAY) == d(11, 25, 2031)
    assert latest_due_date(today=d(2, 29, 2028)) == d(2, 28, 2033)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "Acme",
        "call",
        "hello world",
        # Bare numbers and words dateparser would read as dates
        "3",
        "2026",
        "1 1",
        "a",
        "we",
        "may",
        "march",
        "december 2026",
        "金",
        # Ambiguous numeric forms are refused, not guessed
        "25/12",
        "12/01/2026",
        "01.12",
        "3m",
        # Digits are ASCII after NFKC; other scripts' digits are not guessed at
        "٣ days",
        # Impossible dates, and a weekday that contradicts its date
        "2026-02-30",
        "2/30",
        "13/1",
        "12/4(木)",
        "32日",
        # A time of day is not a due date
        "tomorrow 5pm",
        "noon",
        "5pm",
        "friday 10am",
        # Stray words around a date
        "tomorrow 3",
        "tomorrow call",
        "in 3 days Acme",
        # Out of the calendar's range
        "in 9999 years",
        "in 99999 days",
        "x" * 200,
    ],
)
def test_refuses_garbage(text: str) -> None:
    assert parse_when(text, today=TODAY) is None


def test_a_weekday_on_that_weekday_means_next_week() -> None:
    friday = d(11, 27)
    assert parse_when("friday", today=friday) == d(12, 4)
    assert parse_when("next fri", today=friday) == d(12, 4)
    assert parse_when("金曜", today=friday) == d(12, 4)
    assert parse_when("this friday", today=friday) == friday
    assert parse_when("来週金曜", today=friday) == d(12, 4)


def test_next_week_from_a_sunday_is_the_next_day() -> None:
    sunday = d(11, 29)
    assert parse_when("next week", today=sunday) == d(11, 30)
    assert parse_when("来週", today=sunday) == d(11, 30)
    assert parse_when("来週金曜", today=sunday) == d(12, 4)
    assert parse_when("next fri", today=sunday) == d(12, 4)


def test_months_clamp_to_the_month_end_and_cross_years() -> None:
    assert parse_when("1ヶ月後", today=d(1, 31, 2027)) == d(2, 28, 2027)
    assert parse_when("in 1 month", today=d(1, 31, 2028)) == d(2, 29, 2028)
    assert parse_when("next month", today=d(12, 28)) == d(1, 1, 2027)
    assert parse_when("来月末", today=d(1, 15, 2027)) == d(2, 28, 2027)
    assert parse_when("来週金曜", today=d(12, 30)) == d(1, 8, 2027)
    assert parse_when("31日", today=d(2, 1, 2027)) == d(3, 31, 2027)
    assert parse_when("来月31日", today=d(1, 15, 2027)) is None


def test_today_must_be_a_date_not_a_datetime() -> None:
    with pytest.raises(TypeError):
        parse_when("tomorrow", today=dt.datetime(2026, 11, 25, 23, 30))


def test_short_forms_do_not_import_dateparser() -> None:
    # dateparser costs a fraction of a second to import; the common forms must not pay for it.
    code = (
        "import datetime, sys\n"
        "from bot.parsing.grammar import parse_command\n"
        "from bot.parsing.when import parse_when\n"
        "t = datetime.date(2026, 11, 25)\n"
        "for s in ['tomorrow', '3d', 'next fri', '来週金曜', '12/1', '2026-12-01', 'garbage', 'may']:\n"
        "    parse_when(s, today=t)\n"
        "parse_command('followup Acme Corp tomorrow call back', today=t)\n"
        "assert 'dateparser' not in sys.modules, 'dateparser was imported'\n"
        "assert parse_when('dec 1', today=t) == datetime.date(2026, 12, 1)\n"
        "assert 'dateparser' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_concurrent_dateparser_calls_give_correct_answers() -> None:
    # Bolt runs listeners in a thread pool; dateparser has had thread-safety bugs.
    days = [TODAY + dt.timedelta(days=offset) for offset in range(40)]

    def expected(phrase: str, day: dt.date) -> dt.date:
        if phrase == "in three days":
            return day + dt.timedelta(days=3)
        if phrase == "a week from now":
            return day + dt.timedelta(days=7)
        return d(12, 1) if day <= d(12, 1) else d(12, 1, 2027)

    jobs = [(phrase, day) for phrase in ("in three days", "a week from now", "1 december") for day in days]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: resolve_when(job[0], today=job[1]), jobs))
    assert answers == [expected(phrase, day) for phrase, day in jobs]


_DATE_WORDS = st.sampled_from(
    [
        "in", "a", "3", "12", "2026", "days", "week", "month", "year", "next", "this", "last", "ago",
        "from", "now", "today", "tomorrow", "fri", "friday", "dec", "december", "1st", "of", "the",
        "来週", "金曜", "日後", "ヶ月後", "明日", "月", "日", "/", "-", "(金)", "99999", "9999", "0",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.text(max_size=40), st.lists(_DATE_WORDS, max_size=5).map(" ".join)),
    today=st.dates(),
)
def test_never_raises_and_stays_in_range(text: str, today: dt.date) -> None:
    due = parse_when(text, today=today)
    assert due is None or today <= due <= latest_due_date(today=today)
