"""Header names as other tools write them: one table, read the same way everywhere, shown in the README."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.errors import ImportFileError
from crm_core.io.headers import AMBIGUOUS, HEADERS, NAME_PARTS, header_key, headers_markdown
from crm_core.io.importer import ImportReport, column_readings, import_table
from crm_core.io.source import read_table
from crm_core.models import Customer, Interaction, Purchase
from tests import factories

ACTOR = Actor(user_id="cli:tester", surface="import")
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
DATA = Path(__file__).parents[2] / "data"
README = Path(__file__).parents[3] / "README.md"


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "file.csv"
    path.write_text(text, encoding="utf-8")
    return path


def readings(entity: str, path: Path) -> dict[str, str]:
    """Header → what it is read as, the way the CLI says it."""
    said: dict[str, str] = {}
    for reading in column_readings(entity, read_table(path)).columns:
        if reading.part:
            said[reading.header] = f"name ({reading.part})"
        else:
            said[reading.header] = ", ".join(reading.fields) or "custom"
    return said


def load(session: Session, entity: str, path: Path) -> ImportReport:
    return import_table(session, entity=entity, table=read_table(path), actor=ACTOR, now=NOW)


def stored(session: Session, external_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).one()


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("External ID", "external_id"),
        ("Customer ID", "external_id"),
        ("Record ID", "external_id"),
        ("顧客ID", "external_id"),
        ("顧客コード", "external_id"),
        ("顧客番号", "external_id"),
        ("Full Name", "name"),
        ("氏名", "name"),
        ("顧客名", "name"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Mail", "email"),
        ("メールアドレス", "email"),
        ("Ｅメール", "email"),
        ("ＥＭＡＩＬ", "email"),
        ("e_mail", "email"),
        ("email-address", "email"),
        ("Phone Number", "phone"),
        ("TEL", "phone"),
        ("Mobile", "phone"),
        ("携帯", "phone"),
        ("電話番号", "phone"),
        ("担当者", "owner"),
        ("タグ", "tags"),
    ],
)
def test_customer_headers_other_tools_write(tmp_path: Path, header: str, field: str) -> None:
    path = write_csv(tmp_path, f"Name,{header}\nx,y\n" if field != "name" else f"{header}\nx\n")
    assert readings("customers", path)[header] == field


def test_the_issues_files_keep_their_ids_and_e_mails(session: Session, tmp_path: Path) -> None:
    """`External ID, E-mail` and `Phone Number, Mail` were custom fields with an automatic id."""
    first = load(
        session, "customers", write_csv(tmp_path, "External ID,Name,E-mail\nX-1,Acme,a@acme.example\n")
    )
    assert (first.new, first.rejected) == (1, 0)
    acme = stored(session, "X-1")
    assert (acme.email, acme.custom_fields) == ("a@acme.example", {})
    second = load(
        session, "customers", write_csv(tmp_path, "名前,Phone Number,Mail\n森 誠,090-1111-2222,m@x.jp\n")
    )
    assert (second.new, second.rejected) == (1, 0)
    mori = session.scalars(select(Customer).where(Customer.name == "森 誠")).one()
    assert (mori.email, mori.phone, mori.custom_fields) == ("m@x.jp", "090-1111-2222", {})


def test_purchase_and_interaction_headers_other_tools_write(session: Session, tmp_path: Path) -> None:
    factories.customer(session, "Acme", external_id="A1")
    purchases = write_csv(tmp_path, '顧客コード,購入日,合計,通貨,注文番号\nA1,2026/11/25,"1,200",jpy,O-1\n')
    assert readings("purchases", purchases) == {
        "顧客コード": "customer",
        "購入日": "occurred_at",
        "合計": "amount",
        "通貨": "currency",
        "注文番号": "external_id",
    }
    assert load(session, "purchases", purchases).new == 1
    interactions = write_csv(
        tmp_path, "Customer ID,Activity Date,Type,Notes,Created By\nA1,2026-11-26,電話,見積もり,U1\n"
    )
    assert load(session, "interactions", interactions).new == 1
    assert session.scalars(select(Purchase.external_id)).all() == ["O-1"]
    assert session.execute(select(Interaction.kind, Interaction.summary)).one() == ("call", "見積もり")


def test_two_columns_for_one_field_are_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="columns 'Email' and 'E-mail Address' both mean email"):
        readings("customers", write_csv(tmp_path, "Name,Email,E-mail Address\n"))
    with pytest.raises(ImportFileError, match="columns 'Date' and '日付' both mean occurred_at"):
        readings("purchases", write_csv(tmp_path, "customer,Date,amount,日付\n"))
    with pytest.raises(ImportFileError, match="columns 'Region' and 'REGION' are the same name"):
        readings("customers", write_csv(tmp_path, "Name,Region,REGION\n"))


def test_a_header_that_could_mean_several_fields_is_refused_naming_the_choice(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="column '連絡先' could be email or phone: rename it"):
        readings("customers", write_csv(tmp_path, "Name,連絡先\n"))
    with pytest.raises(ImportFileError, match="column 'ID' could be customer or external_id"):
        readings("purchases", write_csv(tmp_path, "ID,Date,Amount\n"))


def test_company_names_the_customer_only_when_there_is_no_name_column(
    session: Session, tmp_path: Path
) -> None:
    companies = write_csv(tmp_path, "Customer ID,Company\nK1,Initech\n")
    assert readings("customers", companies) == {"Customer ID": "external_id", "Company": "company, name"}
    load(session, "customers", companies)
    assert (stored(session, "K1").name, stored(session, "K1").company) == ("Initech", "Initech")
    people = write_csv(tmp_path, "Customer ID,Name,Company\nK2,Peter Gibbons,Initech\n")
    assert readings("customers", people)["Company"] == "company"
    load(session, "customers", people)
    assert (stored(session, "K2").name, stored(session, "K2").company) == ("Peter Gibbons", "Initech")


def test_hubspot_contacts_export(session: Session) -> None:
    path = DATA / "hubspot_contacts.csv"
    assert readings("customers", path) == {
        "Record ID": "external_id",
        "First Name": "name (given name)",
        "Last Name": "name (family name)",
        "Email": "email",
        "Phone Number": "phone",
        "Contact owner": "owner",
        "Primary Associated Company ID": "custom",
        "Last Activity Date": "custom",
        "Lead Status": "custom",
        "Marketing contact status": "custom",
        "Create Date": "custom",
        "Associated Company": "company",
    }
    report = load(session, "customers", path)
    assert (report.new, report.rejected) == (3, 0)
    maria, mori = stored(session, "51"), stored(session, "151")
    assert (maria.name, maria.email, maria.phone, maria.company, maria.owner_id) == (
        "Maria Johnson",
        "maria.johnson@example.com",
        "+1 617-555-0142",
        "Northwind Traders",
        "Jane Doe",
    )
    assert maria.custom_fields["Lead Status"] == "OPEN"
    assert mori.name == "森 誠"  # family name first in Japanese script


def japanese_workbook(path: Path) -> Path:
    """A 顧客管理表 as Japanese Excel users keep it: Japanese headers, one full-width, a note column."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "顧客一覧"
    sheet.append(["顧客コード", "氏名", "会社名", "メールアドレス", "ＴＥＬ", "担当者", "タグ", "備考"])
    sheet.append(
        [
            "K-001",
            "山田 花子",
            "株式会社さくら商事",
            "hanako@sakura.example.jp",
            "03-1111-2222",
            "U0SALES1",
            "VIP",
            "紹介",
        ]
    )
    sheet.append(["K-002", "佐藤 一郎", "", "ichiro@example.jp", 9012345678, "U0SALES2", "", ""])
    workbook.save(path)
    return path


def test_japanese_excel_customer_list(session: Session, tmp_path: Path) -> None:
    path = japanese_workbook(tmp_path / "顧客管理表.xlsx")
    assert readings("customers", path) == {
        "顧客コード": "external_id",
        "氏名": "name",
        "会社名": "company",
        "メールアドレス": "email",
        "ＴＥＬ": "phone",
        "担当者": "owner",
        "タグ": "tags",
        "備考": "custom",
    }
    report = load(session, "customers", path)
    assert (report.new, report.rejected) == (2, 0)
    hanako = stored(session, "K-001")
    assert (hanako.name, hanako.company, hanako.owner_id, hanako.tags, hanako.custom_fields) == (
        "山田 花子",
        "株式会社さくら商事",
        "U0SALES1",
        ["VIP"],
        {"備考": "紹介"},
    )


def test_no_header_means_two_fields_of_one_file() -> None:
    for entity, fields in HEADERS.items():
        keys = [header_key(name) for names in fields.values() for name in names]
        keys += (
            [header_key(name) for names in NAME_PARTS.values() for name in names]
            if entity == "customers"
            else []
        )
        keys += [header_key(name) for name in AMBIGUOUS[entity]]
        assert len(keys) == len(set(keys)), entity
        assert all(header_key(field) in keys for field in fields), entity


def test_the_readme_shows_the_table_the_code_reads() -> None:
    readme = README.read_text(encoding="utf-8")
    shown = re.search(r"<!-- import-headers:start -->\n(.*?)<!-- import-headers:end -->", readme, re.S)
    assert shown is not None, "README lacks the import-headers markers"
    assert shown.group(1) == headers_markdown(), (
        "README.md is out of date: paste headers_markdown() from crm_core.io.headers between the markers"
    )
