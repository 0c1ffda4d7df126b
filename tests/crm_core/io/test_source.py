"""Reading import files: encodings, XLSX, line numbers, and one clear error per unreadable file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from crm_core.errors import ImportFileError
from crm_core.io.source import read_table

JAPANESE = "株式会社テスト,田中 太郎,ｱｲｳ"


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "shift_jis"])
def test_csv_encodings_keep_japanese_text(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "c.csv", f"company,name,kana\n{JAPANESE}\n", encoding)
    table = read_table(path)
    assert list(table.rows.columns) == ["company", "name", "kana"]
    assert ",".join(table.rows.loc[2]) == JAPANESE


def test_xlsx_reads_the_first_sheet_with_sheet_row_numbers(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Customer", "Occurred_At", "Amount"])
    sheet.append(["田中 太郎", dt.datetime(2026, 11, 25, 14, 30), 1200])
    sheet.append([None, None, None])
    sheet.append(["Acme", dt.date(2026, 11, 26), 12.5])
    workbook.save(tmp_path / "p.xlsx")
    rows = read_table(tmp_path / "p.xlsx").rows
    assert rows.index.tolist() == [2, 4]
    assert rows.loc[2].tolist() == ["田中 太郎", "2026-11-25 14:30:00", "1200"]
    assert rows.loc[4].tolist() == ["Acme", "2026-11-26 00:00:00", "12.5"]


def test_line_numbers_are_physical_lines_even_with_multi_line_fields(tmp_path: Path) -> None:
    text = 'name,summary\nA,"one\ntwo"\n\nB,plain\nC,"x\r\ny\r\nz"\nD,last\n'
    rows = read_table(write(tmp_path / "m.csv", text, "utf-8")).rows
    assert dict(zip(rows["name"], rows.index, strict=True)) == {"A": 2, "B": 5, "C": 6, "D": 9}
    assert rows.loc[2, "summary"] == "one\ntwo"


def test_values_and_headers_are_trimmed_and_blank_rows_dropped(tmp_path: Path) -> None:
    rows = read_table(write(tmp_path / "t.csv", " Name , Email \n  Taro , t@x.jp \n,\n", "utf-8")).rows
    assert list(rows.columns) == ["Name", "Email"]
    assert rows.loc[2].tolist() == ["Taro", "t@x.jp"]
    assert len(rows) == 1


def test_short_rows_are_padded_and_long_rows_marked(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "r.csv", "a,b,c\n1\n1,2,3,4\n1,2,3,\n", "utf-8"))
    assert table.rows.loc[2].tolist() == ["1", "", ""]
    assert table.malformed == {3: "has 4 values but the header has 3 columns"}


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read_table(write(tmp_path / "h.csv", "customer,occurred_at,amount\n", "utf-8")).rows.empty


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf \n\n", "the file is empty"),
        (b"name\x00\x01\x02\n", "looks like a binary file"),
        ("name\n田中\n".encode("utf-16"), "is UTF-16 text"),
        (b"name,city\nJos\xe9,S\xe3o Paulo\n", "is neither UTF-8 nor Shift_JIS (CP932)"),  # Latin-1
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old-style Excel (.xls)"),
        (b"PK\x03\x04not really a zip", "is not a readable XLSX workbook"),
    ],
)
def test_unreadable_files_each_get_their_own_message(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as raised:
        read_table(path)
    assert expected in raised.value.message
    assert str(path) in raised.value.message


def test_xlsx_name_with_csv_content_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.xlsx", "customer,amount\n", "utf-8")
    with pytest.raises(ImportFileError, match="is not a valid XLSX workbook"):
        read_table(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="is a directory"):
        read_table(tmp_path)


def test_the_quote_export_puts_before_formulas_is_removed_once(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("'=name,note\n'=1+1,'t Hooft\n'@x,''=y\n'+81 3,-5\n", encoding="utf-8")
    table = read_table(path)
    assert list(table.rows.columns) == ["=name", "note"]
    assert table.rows.to_numpy().tolist() == [["=1+1", "'t Hooft"], ["@x", "'=y"], ["+81 3", "-5"]]
