"""Column-at-a-time parsing of the values import files hold: times, amounts, currencies, row keys.

Each parser takes a column of trimmed text, reports the lines it cannot parse, and returns the parsed
column (invalid entries are left for the caller to drop with ``RowProblems.valid``).

Accepted forms, chosen for what spreadsheets and order systems actually write:
- times: ISO 8601 dates and date-times (``2026-11-25``, ``2026-11-25 14:30``, ``2026-11-25T14:30:00+09:00``)
  and the same with slashes (``2026/11/25``, ``2026/1/5 9:05``). A time with an offset is converted to
  UTC; a time without one is stored as written (the store keeps naive times, in UTC by convention).
- amounts: non-negative numbers with at most 12 digits before the point and 2 after, optionally with
  thousands separators (``1,200``) and a leading yen sign (``¥1,200``, only when the currency is JPY).
  Anything else (other currency signs, ``1.2e3``, negative amounts) is rejected rather than guessed.
- currencies: ISO 4217 codes, any case (the ``iso4217`` package's list, updated with each amendment
  of the standard, so ``EURO``, ``RMB`` or a typo such as ``USS`` are rejected); empty means JPY.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal

import pandas as pd
from iso4217 import Currency

from crm_core.errors import InvalidInput
from crm_core.io.problems import RowProblems

DEFAULT_CURRENCY = "JPY"
YEN_SIGNS = ("¥", "￥")
_AMOUNT = r"[¥￥]?(?:\d{1,12}|\d{1,3}(?:,\d{3}){1,3})(?:\.\d{1,2})?"
_AMOUNT_LAYOUT = str.maketrans("", "", "¥￥,")
ISO_4217_CODES = frozenset(currency.code for currency in Currency)


def checked(values: pd.Series, check: Callable[[str], str], problems: RowProblems) -> pd.Series:
    """Run a service's own validator once per distinct non-empty value, so import and chat agree.

    Lines whose value it refuses get its message; the result holds the cleaned values (NaN there).
    """
    cleaned: dict[str, str] = {}
    refused: dict[str, str] = {}
    for value in values[values.ne("")].unique():
        try:
            cleaned[value] = check(value)
        except InvalidInput as exc:
            refused[value] = exc.message
    problems.add_where(values.isin(list(refused)), lambda value: refused[value], values)
    return values.map(cleaned).astype(object)


def parse_times(values: pd.Series, problems: RowProblems, *, column: str) -> pd.Series:
    """Naive UTC ``datetime64`` per line; NaT where the value is empty or not a time."""
    parsed = _utc_times(values)
    unparsed = parsed.isna() & values.ne("")
    if unparsed.any():  # the same forms written with slashes; tried only where needed, to save a pass
        parsed = parsed.fillna(_utc_times(values[unparsed].str.replace("/", "-", regex=False)))
    problems.add_where(
        parsed.isna() & values.ne(""),
        lambda value: f"{column} {value!r} is not a date such as 2026-11-25 or 2026-11-25 14:30",
        values,
    )
    naive: pd.Series = parsed.dt.tz_localize(None)
    return naive


def _utc_times(values: pd.Series) -> pd.Series:
    parsed: pd.Series = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
    return parsed


def _currency_code(text: str) -> str:
    code = text.upper()
    if code not in ISO_4217_CODES:
        raise InvalidInput(f"currency {text!r} is not an ISO 4217 code such as JPY, USD or EUR")
    return code


def parse_currencies(values: pd.Series, problems: RowProblems) -> pd.Series:
    """Upper-case currency codes, JPY where empty (or invalid: those lines are rejected anyway)."""
    return checked(values, _currency_code, problems).fillna(DEFAULT_CURRENCY)


def parse_amounts(values: pd.Series, currencies: pd.Series, problems: RowProblems) -> pd.Series:
    """``Decimal`` amounts per line (NaN where invalid), see the module docstring for the forms."""
    valid = values.str.fullmatch(_AMOUNT)
    problems.add_where(
        ~valid & values.ne(""),
        lambda value: f"amount {value!r} is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        values,
    )
    foreign = currencies.ne(DEFAULT_CURRENCY)
    in_yen = values[foreign].str.startswith(YEN_SIGNS).reindex(values.index, fill_value=False)
    problems.add_where(
        in_yen, lambda currency: f"amount is in yen (¥) but currency is {currency}", currencies
    )
    texts = values[valid]
    amounts = [Decimal(text.translate(_AMOUNT_LAYOUT)) for text in texts]
    return pd.Series(amounts, index=texts.index, dtype=object).reindex(values.index)


def optional_column(rows: pd.DataFrame, name: str) -> pd.Series:
    """The column, or empty text on every line when the file does not have it."""
    return rows[name] if name in rows else pd.Series("", index=rows.index, dtype=object)


def content_keys(prefix: str, parts: Sequence[Sequence[str]], *, digest_chars: int = 32) -> list[str]:
    """A deterministic key per row from its content, so a re-import of the same rows finds them again."""
    return [
        prefix + hashlib.sha256("\x1f".join(row).encode()).hexdigest()[:digest_chars]
        for row in zip(*parts, strict=True)
    ]


def iso_texts(times: pd.Series) -> list[str]:
    """Times as the ISO text that keys and exports use (seconds, or microseconds when present)."""
    return [time.isoformat(sep=" ") for time in times.dt.to_pydatetime()]
