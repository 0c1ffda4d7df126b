"""Which field each column of an import file holds, read from header names as other tools write them.

HubSpot writes ``Record ID`` and ``Email``, Salesforce ``Account Name``, a Japanese spreadsheet
``氏名`` and ``メールアドレス``. ``HEADERS`` is the one table of the names recognised for each field;
the README shows it (``headers_markdown``, checked by a test). Names are compared after NFKC
normalisation (full-width forms), case folding and removing spaces, hyphens and underscores, so
``E-mail``, ``EMAIL`` and ``ｅ＿ｍａｉｌ`` are one name.

A header is read one way or refused: two columns that mean the same field, and a header that could
mean several fields (``連絡先``: e-mail or phone?), stop the import with a message naming the choice,
since guessing would put data in the wrong field without anyone noticing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import pandas as pd

from crm_core.errors import ImportFileError

HEADERS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "customers": {
            "external_id": (
                "external_id", "Customer ID", "Record ID", "Contact ID",
                "ID", "顧客ID", "顧客コード", "顧客番号", "会員番号",
            ),
            "name": (
                "name", "Full Name", "Customer Name", "Contact Name", "名前", "氏名", "顧客名", "お名前",
            ),
            "company": (
                "company", "Company Name", "Associated Company", "Account Name", "Organization",
                "会社名", "会社", "企業名", "法人名", "勤務先",
            ),
            "email": (
                "email", "Email Address", "Mail", "Mail Address", "メール", "メールアドレス",
                "Eメール", "Eメールアドレス",
            ),
            "phone": (
                "phone", "Phone Number", "Tel", "Telephone", "Mobile", "Mobile Phone", "Mobile Phone Number",
                "電話", "電話番号", "携帯", "携帯電話", "携帯番号",
            ),
            "owner": ("owner", "Contact Owner", "Account Owner", "Sales Rep", "担当", "担当者", "営業担当"),
            "tags": ("tags", "Tag", "Labels", "タグ"),
        },
        "purchases": {
            "customer": (
                "customer", "Customer ID", "Customer Name", "Customer Email", "Client", "Account",
                "顧客", "顧客ID", "顧客コード", "顧客名", "取引先",
            ),
            "occurred_at": (
                "occurred_at", "Date", "Order Date", "Purchase Date", "Close Date", "Created At",
                "日付", "購入日", "注文日", "受注日", "売上日",
            ),
            "amount": (
                "amount", "Total", "Price", "Order Total", "金額", "合計", "売上", "購入金額", "合計金額",
            ),
            "currency": ("currency", "Currency Code", "通貨"),
            "external_id": (
                "external_id", "Order ID", "Order Number", "Transaction ID", "注文番号", "注文ID", "受注番号",
            ),
        },
        "interactions": {
            "customer": (
                "customer", "Customer ID", "Customer Name", "Customer Email", "Contact", "Client",
                "顧客", "顧客ID", "顧客コード", "顧客名", "取引先",
            ),
            "occurred_at": ("occurred_at", "Date", "Activity Date", "Timestamp", "日付", "日時", "対応日"),
            "kind": ("kind", "Type", "Activity Type", "Channel", "種別", "種類", "区分"),
            "summary": (
                "summary", "Note", "Notes", "Memo", "Description", "Body", "Comment", "Comments",
                "メモ", "内容", "概要", "備考",
            ),
            "author": ("author", "Logged By", "Created By", "User", "担当", "担当者", "記入者", "作成者"),
        },
    }
)  # fmt: skip
"""Per entity, each field and the header names that mean it; the first is the name export writes."""

NAME_PARTS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "given name": ("First Name", "Given Name", "名"),
        "family name": ("Last Name", "Surname", "Family Name", "姓"),
    }
)
"""Customers files may split names (HubSpot and Salesforce do); the parts make ``name`` when the
file has no name column, family name first when either part is written in Japanese script."""

AMBIGUOUS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "customers": {"Contact": ("name", "email", "phone"), "連絡先": ("email", "phone")},
        "purchases": {"ID": ("customer", "external_id"), "番号": ("customer", "external_id")},
        "interactions": {},
    }
)
"""Headers that other tools use for several fields: refused rather than guessed."""

COMPANY_AS_NAME: Final = ("company", "name")
"""A customers file without a name column (a list of companies) names each customer by company."""

_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015\u2212]+")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def header_key(header: str) -> str:
    """The form header names are compared in: full-width folded, case folded, no separators."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", header).casefold())


@dataclass(frozen=True)
class ColumnReading:
    """How one column of the file is read: the fields it fills, or a custom field of that name.

    ``part`` names the part of ``name`` a given- or family-name column holds.
    """

    header: str
    fields: tuple[str, ...] = ()
    part: str | None = None

    @property
    def custom(self) -> bool:
        return not self.fields


@dataclass(frozen=True)
class ColumnReadings:
    """Every column of one file, in file order, and the rows they give."""

    entity: str
    columns: tuple[ColumnReading, ...]

    def rows(self, raw: pd.DataFrame) -> pd.DataFrame:
        """The file's rows (positional columns, in file order) under their field names."""
        frame: dict[str, pd.Series] = {}
        parts: dict[str, pd.Series] = {}
        for position, reading in enumerate(self.columns):
            values = raw.iloc[:, position]
            if reading.part is not None:
                parts[reading.part] = values
                continue
            for name in reading.fields or (reading.header,):
                frame[name] = values
        if parts:
            frame["name"] = _joined_name(parts.get("given name"), parts.get("family name"), raw.index)
        return pd.DataFrame(frame, index=raw.index, dtype=object)


def read_columns(*, entity: str, headers: list[str], source: str) -> ColumnReadings:
    """Read each header as a field of ``entity`` (or a custom field); ImportFileError when one is
    ambiguous or means what another column already means."""
    fields = {header_key(name): field for field, names in HEADERS[entity].items() for name in names}
    ambiguous = {header_key(name): choice for name, choice in AMBIGUOUS[entity].items()}
    parts = {header_key(name): part for part, names in NAME_PARTS.items() for name in names}
    has_name = any(fields.get(header_key(header)) == "name" for header in headers)
    readings: list[ColumnReading] = []
    for header in headers:
        key = header_key(header)
        if key in ambiguous:
            raise ImportFileError(
                f"{source}: column {header!r} could be {' or '.join(ambiguous[key])}: rename it to one of "
                "those (or delete it)"
            )
        if key in fields:
            readings.append(ColumnReading(header, (fields[key],)))
        elif entity == "customers" and key in parts and not has_name:
            readings.append(ColumnReading(header, (), part=parts[key]))
        else:
            readings.append(ColumnReading(header))
    readings = _company_as_name(readings) if entity == "customers" and not has_name else readings
    _refuse_repeats(readings, source)
    return ColumnReadings(entity, tuple(readings))


def _company_as_name(readings: list[ColumnReading]) -> list[ColumnReading]:
    if any(reading.part for reading in readings):
        return readings
    return [
        ColumnReading(reading.header, COMPANY_AS_NAME) if reading.fields == ("company",) else reading
        for reading in readings
    ]


def _refuse_repeats(readings: list[ColumnReading], source: str) -> None:
    seen: dict[str, str] = {}
    for reading in readings:
        meanings = reading.fields or ((reading.part,) if reading.part else (header_key(reading.header),))
        for meaning in meanings:
            if meaning in seen:
                what = f"both mean {meaning}" if not reading.custom or reading.part else "are the same name"
                raise ImportFileError(
                    f"{source}: columns {seen[meaning]!r} and {reading.header!r} {what}: keep one, or "
                    "rename the other"
                )
            seen[meaning] = reading.header


def _joined_name(given: pd.Series | None, family: pd.Series | None, index: pd.Index) -> pd.Series:
    """``First Last``, or ``姓 名`` when either part is written in Japanese script."""
    empty = pd.Series("", index=index, dtype=object)
    given, family = (empty if part is None else part for part in (given, family))
    names = [
        " ".join(part for part in ((f, g) if _JAPANESE.search(f + g) else (g, f)) if part)
        for g, f in zip(given.tolist(), family.tolist(), strict=True)
    ]
    return pd.Series(names, index=index, dtype=object)


def headers_markdown() -> str:
    """The README's table of recognised header names, generated from ``HEADERS``."""
    lines = ["| file | field | header names recognised |", "| --- | --- | --- |"]
    for entity, fields in HEADERS.items():
        for field, names in fields.items():
            lines.append(f"| {entity} | `{field}` | {', '.join(f'`{name}`' for name in names)} |")
        if entity == "customers":
            for part, names in NAME_PARTS.items():
                lines.append(f"| {entity} | `name` ({part}) | {', '.join(f'`{name}`' for name in names)} |")
        for header, choice in AMBIGUOUS[entity].items():
            lines.append(f"| {entity} | refused | `{header}` (could be {' or '.join(choice)}) |")
    return "\n".join(lines) + "\n"
