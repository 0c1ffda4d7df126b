"""Reading an import file into text rows keyed by their line number, or failing with one clear message.

CSV comes from many hands: UTF-8 from most tools, UTF-8 with a BOM from Excel's "CSV UTF-8", and
Shift_JIS (in practice Microsoft's CP932) from Japanese Excel. There is no reliable way to guess an
encoding, so we try the strict decoders in that order: Japanese text in CP932 is almost never valid
UTF-8, so the first decoder that succeeds is the right one. XLSX is read with openpyxl (first sheet)
so that line numbers are the sheet's row numbers.

Every value is kept as text; the entity importers parse and validate it. The one ``'`` that export
puts before a cell a spreadsheet would run as a formula is removed (``crm_core.io.formulas``).
Line numbers count physical lines, header = line 1, so a report's ``line 10`` is what an editor
shows even when a quoted field spans several lines.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crm_core.errors import ImportFileError
from crm_core.io.formulas import QUOTED

ENCODINGS = ("utf-8-sig", "cp932")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and other Office binary formats
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class SourceTable:
    """An import file's rows as text: one column per header (trimmed, as written), index = line number.

    ``malformed`` maps a line to why it cannot be read as a row (more values than the header has
    columns); those lines are in ``rows`` too, so that the importer reports them with the others.
    """

    name: str
    rows: pd.DataFrame
    malformed: dict[int, str] = field(default_factory=dict)


def read_table(path: Path) -> SourceTable:
    """Read a CSV or XLSX file; raises ImportFileError when it cannot be read as a table at all."""
    data = _read_bytes(path)
    if data.startswith(_ZIP_MAGIC):
        return _records_table(str(path), _xlsx_records(path, data))
    if data.startswith(_OLE_MAGIC):
        raise ImportFileError(
            f"{path}: old-style Excel (.xls) files are not supported: save it as .xlsx or CSV"
        )
    if path.suffix.lower() == ".xlsx":
        raise ImportFileError(f"{path}: is not a valid XLSX workbook: save it again from Excel, or as CSV")
    return _csv_table(str(path), _decode(path, data))


def frame_table(name: str, frame: pd.DataFrame) -> SourceTable:
    """A table from rows already in memory (generated data), numbered as if read from a CSV file."""
    text = frame.astype(object).where(frame.notna(), "").astype(str).astype(object)
    text.index = pd.RangeIndex(2, len(text) + 2)
    return SourceTable(name=name, rows=text)


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise ImportFileError(f"{path}: is a directory; give the path of a CSV or XLSX file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not data.strip().removeprefix(b"\xef\xbb\xbf").strip():
        raise ImportFileError(f"{path}: the file is empty; expected a header row and data rows")
    return data


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise ImportFileError(f"{path}: is UTF-16 text; save it as CSV UTF-8 (or Shift_JIS) instead")
    if b"\x00" in data:
        raise ImportFileError(f"{path}: looks like a binary file, not CSV or XLSX")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        f"{path}: is neither UTF-8 nor Shift_JIS (CP932) text; save it as CSV UTF-8, or as XLSX"
    )


def _csv_table(name: str, text: str) -> SourceTable:
    """pandas' C parser when every record is one line no wider than the first (the usual case, and a
    few times faster); otherwise the csv module, which can tell where each record starts."""
    try:
        frame = pd.read_csv(
            io.StringIO(text), header=None, dtype=object, na_filter=False, skip_blank_lines=False
        )
    except pd.errors.ParserError:
        frame = None
    physical_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if frame is not None and len(frame) == physical_lines:
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        return _table(name, frame)
    try:
        return _records_table(name, _records_with_line_numbers(csv.reader(io.StringIO(text, newline=""))))
    except csv.Error as exc:
        raise ImportFileError(f"{name}: is not valid CSV ({exc})") from None


@dataclass(frozen=True)
class _Records:
    """Raw rows, each with the physical line it starts on."""

    values: list[list[str]]
    lines: list[int]


def _records_with_line_numbers(reader: Iterable[list[str]]) -> _Records:
    values: list[list[str]] = []
    lines: list[int] = []
    next_line = 1
    for record in reader:
        values.append(record)
        lines.append(next_line)
        next_line = reader.line_num + 1  # type: ignore[attr-defined]
    return _Records(values, lines)


def _xlsx_records(path: Path, data: bytes) -> _Records:
    # openpyxl is imported here: it is slow to import and most imports are CSV.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise ImportFileError(
            f"{path}: is not a readable XLSX workbook: save it again from Excel, or as CSV"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        values = [[_cell_text(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _Records(values, list(range(1, len(values) + 1)))


def _cell_text(value: object) -> str:
    """A cell as the text a person sees: whole numbers without '.0', dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _records_table(name: str, records: _Records) -> SourceTable:
    """Rows as wide as the header (the first non-blank row): short ones padded, long ones marked."""
    first = next((i for i, row in enumerate(records.values) if any(v.strip() for v in row)), None)
    if first is None:
        raise ImportFileError(f"{name}: the file is empty; expected a header row and data rows")
    width = len(records.values[first])
    malformed: dict[int, str] = {}
    even: list[list[str]] = []
    for row, line in zip(records.values[first:], records.lines[first:], strict=True):
        if len(row) > width and any(v.strip() for v in row[width:]):
            malformed[line] = f"has {len(row)} values but the header has {width} columns"
        even.append(row[:width] if len(row) >= width else [*row, *[""] * (width - len(row))])
    frame = pd.DataFrame(even, index=pd.Index(records.lines[first:], dtype="int64"), dtype=object)
    return _table(name, frame, malformed)


def _table(name: str, raw: pd.DataFrame, malformed: dict[int, str] | None = None) -> SourceTable:
    """Values trimmed and unquoted; the first non-blank row is the header; blank rows dropped. ``raw``
    is indexed by line number, with positional columns."""
    frame = pd.DataFrame(
        {position: _unquoted(list(map(str.strip, raw[position].tolist()))) for position in raw.columns},
        index=raw.index,
        dtype=object,
    )
    filled = (frame != "").any(axis=1)
    if not filled.any():
        raise ImportFileError(f"{name}: the file is empty; expected a header row and data rows")
    header_position = int(filled.to_numpy().argmax())
    header: list[str] = frame.iloc[header_position].tolist()
    rows = frame.iloc[header_position + 1 :]
    rows = rows[filled.iloc[header_position + 1 :]]
    rows.columns = pd.Index(header, dtype=object)
    return SourceTable(name=name, rows=rows, malformed=malformed or {})


def _unquoted(values: list[str]) -> list[str]:
    """A column with the one ``'`` removed from cells that export quoted as formulas (see formulas)."""
    column = pd.Series(values, dtype=object)
    quoted = column.str.match(QUOTED)
    if not quoted.any():
        return values
    column[quoted] = column[quoted].str[1:]
    return column.tolist()
