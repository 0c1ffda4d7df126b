"""The import pipeline's rules, entity by entity, on the rolled-back test session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.parsing import grammar
from crm_core.actor import Actor
from crm_core.errors import ImportFileError
from crm_core.interactions.kinds import KIND_ALIASES, LOGGABLE_KINDS
from crm_core.io import bulk
from crm_core.io.entity import Batch
from crm_core.io.importer import ImportReport, import_table
from crm_core.io.problems import RowProblems
from crm_core.io.source import read_table
from crm_core.models import AuditEvent, Customer, Interaction, Purchase
from crm_core.store import transaction
from tests import factories

ACTOR = Actor(user_id="cli:tester", surface="import")
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))  # "today" in Tokyo


Load = Callable[[str, str], ImportReport]


@pytest.fixture
def load(session: Session, tmp_path: Path) -> Load:
    """Import CSV text as ENTITY into the test session; returns the report."""

    def run(entity: str, text: str) -> ImportReport:
        path = tmp_path / f"{entity}.csv"
        path.write_text(text, encoding="utf-8")
        return import_table(session, entity=entity, table=read_table(path), actor=ACTOR, now=NOW)

    return run


def messages(report: ImportReport) -> list[str]:
    return [str(rejection) for rejection in report.rejections]


def customer(session: Session, external_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).one()


def count(session: Session, model: type[Customer | Purchase | Interaction]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# customers


def test_customers_with_any_header_case_and_custom_fields(load: Load, session: Session) -> None:
    report = load(
        "customers",
        "EXTERNAL_ID,Name,E-Mail Opt-In,ＥＭＡＩＬ,Tags,Plan\n"
        "C1,株式会社テスト,yes,Info@Test.JP,vip; newsletter ;vip,gold\n",
    )
    assert (report.new, report.rejected) == (1, 0)
    stored = customer(session, "C1")
    assert (stored.name, stored.email, stored.tags) == (
        "株式会社テスト",
        "info@test.jp",
        ["newsletter", "vip"],
    )
    assert stored.custom_fields == {"E-Mail Opt-In": "yes", "Plan": "gold"}


def test_customer_rows_are_validated_with_line_numbers(load: Load, session: Session) -> None:
    report = load(
        "customers",
        "external_id,name,email,phone\n"
        "C1,Good,good@x.jp,03-1234-5678\n"
        "C2,,nobody@x.jp,\n"
        "C3,Bad Mail,not-an-address,\n"
        "C4,Short Phone,,12-3\n"
        f"{'X' * 65},Long Id,,\n",
    )
    assert messages(report) == [
        "line 3: name is empty",
        "line 4: e-mail 'not-an-address' is not a valid address",
        "line 5: phone '12-3' needs at least 6 digits",
        "line 6: external_id is longer than 64 characters",
    ]
    assert (report.new, count(session, Customer)) == (1, 1)


def test_duplicates_inside_the_file_are_reported(load: Load) -> None:
    report = load(
        "customers",
        "external_id,name,email,phone\n"
        "C1,Taro,taro@x.jp,090-1111-2222\n"
        "C2,Taro Again,TARO@x.jp,\n"
        "C3,Phone Twin,,0901111-2222\n"
        "C1,Taro Twice,,\n",
    )
    assert messages(report) == [
        "line 3: e-mail 'taro@x.jp' is already on line 2",
        "line 4: phone '0901111-2222' is already on line 2",
        "line 5: customer 'C1' is already on line 2",
    ]


def test_contact_of_another_customer_is_refused_and_same_id_updates(load: Load, session: Session) -> None:
    factories.customer(session, "Hanako", email="hanako@x.jp", external_id="H1", company="Old Co")
    report = load(
        "customers",
        "external_id,name,email,company\nH2,Hanako Two,hanako@x.jp,\nH1,Hanako Sato,hanako@x.jp,New Co\n",
    )
    assert messages(report) == [
        "line 2: e-mail 'hanako@x.jp' already belongs to H1 (Hanako): use that external_id to update it, "
        "or merge the records"
    ]
    assert (report.new, report.updated) == (0, 1)
    assert (customer(session, "H1").name, customer(session, "H1").company) == ("Hanako Sato", "New Co")


def test_row_without_id_updates_the_owner_of_its_email(load: Load, session: Session) -> None:
    factories.customer(session, "Ken", email="ken@x.jp", external_id="K1")
    report = load("customers", "name,email,phone\nKen Ito,ken@x.jp,03-9999-0000\n")
    assert (report.new, report.updated) == (0, 1)
    assert customer(session, "K1").phone == "03-9999-0000"


def test_customer_reimport_is_idempotent_even_without_ids(load: Load, session: Session) -> None:
    text = "name,email,region\nNo Contact Person,,Kanto\nWith Mail,m@x.jp,\n"
    first, second = load("customers", text), load("customers", text)
    assert (first.new, second.new, second.updated, second.unchanged) == (2, 0, 0, 2)
    assert count(session, Customer) == 2


def test_file_columns_are_the_truth_and_absent_columns_are_left_alone(load: Load, session: Session) -> None:
    load("customers", "external_id,name,email,company,plan,region\nC1,Acme,a@acme.jp,Acme KK,gold,Kanto\n")
    report = load("customers", "external_id,name,company,plan\nC1,Acme,,\n")
    assert report.updated == 1
    stored = customer(session, "C1")
    assert (stored.email, stored.company) == ("a@acme.jp", None)
    assert stored.custom_fields == {"region": "Kanto"}


# purchases


def test_purchase_customer_is_matched_by_id_email_then_exact_name(load: Load, session: Session) -> None:
    factories.customer(session, "田中 太郎", email="taro@x.jp", external_id="T1")
    factories.customer(session, "Same Name", external_id="S1")
    factories.customer(session, "Same  Name", external_id="S2", email="s2@x.jp")
    report = load(
        "purchases",
        "customer,occurred_at,amount,external_id\n"
        "T1,2026-11-01,100,O1\n"
        "TARO@x.jp,2026-11-02,100,O2\n"
        "田中\u3000太郎,2026-11-03,100,O3\n"  # spaces collapse as in stored names
        "田中 太郎,2026-11-04,100,O4\n"
        "Same Name,2026-11-05,100,O5\n"
        "nobody,2026-11-06,100,O6\n",
    )
    assert messages(report) == [
        "line 6: customer 'Same Name' matches several customers by name: use their external_id or e-mail",
        "line 7: customer 'nobody' is not known (looked up by external_id, e-mail and exact name): "
        "import the customers first",
    ]
    bought = session.execute(select(Purchase.external_id, Customer.external_id).join(Customer)).all()
    assert sorted(bought) == [("O1", "T1"), ("O2", "T1"), ("O3", "T1"), ("O4", "T1")]


def test_purchase_values_are_parsed_or_rejected(load: Load, session: Session) -> None:
    factories.customer(session, "Acme", external_id="A1")
    report = load(
        "purchases",
        "customer,occurred_at,amount,currency,external_id\n"
        'A1,2026/11/25,"1,200",,O1\n'
        "A1,2026-11-25T10:00:00+09:00,¥500,jpy,O2\n"
        "A1,2026-11-25 09:30,12.5,usd,O3\n"
        "A1,25/11/2026,1,,O4\n"
        "A1,2026-11-25,-5,,O5\n"
        "A1,2026-11-25,1.234,,O6\n"
        "A1,2026-11-25,$5,,O7\n"
        "A1,2026-11-25,¥5,USD,O8\n"
        "A1,2026-11-25,5,EURO,O9\n"
        "A1,2026-11-25,,,O10\n",
    )
    assert messages(report) == [
        "line 5: occurred_at '25/11/2026' is not a date such as 2026-11-25 or 2026-11-25 14:30",
        "line 6: amount '-5' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 7: amount '1.234' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 8: amount '$5' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 9: amount is in yen (¥) but currency is USD",
        "line 10: currency 'EURO' is not an ISO 4217 code such as JPY, USD or EUR",
        "line 11: amount is empty",
    ]
    stored = {p.external_id: p for p in session.scalars(select(Purchase))}
    assert (stored["O1"].amount, stored["O1"].currency, stored["O1"].occurred_at) == (
        Decimal("1200"),
        "JPY",
        dt.datetime(2026, 11, 25),
    )
    assert stored["O2"].occurred_at == dt.datetime(2026, 11, 25, 1, 0)
    assert (stored["O3"].amount, stored["O3"].currency) == (Decimal("12.5"), "USD")


def test_impossible_purchases_are_rejected_with_their_line(load: Load, session: Session) -> None:
    """NOW is 2026-12-05 09:00 in Tokyo: today is the 5th there, whatever the clock of the machine says."""
    factories.customer(session, "Acme", external_id="A1")
    report = load(
        "purchases",
        "customer,occurred_at,amount,currency,external_id\n"
        "A1,2026-12-05 23:30,100,,O1\n"
        "A1,2026-12-05T23:59:00+09:00,100,,O2\n"
        "A1,2026-12-06,100,,O3\n"
        "A1,2026-12-06T10:00:00+09:00,100,,O4\n"
        "A1,2031-01-01,100,,O5\n"
        "A1,2026-11-25,abc,,O6\n"
        "A1,2026-11-25,NaN,,O7\n"
        "A1,2026-11-25,1e3,,O8\n"
        "A1,2026-11-25,100,RMB,O9\n"
        "A1,2026-11-25,100,ABC,O10\n"
        "A1,2026-11-25,100,eur,O11\n",
    )
    assert messages(report) == [
        "line 4: occurred_at '2026-12-06' is after today (2026-12-05)",
        "line 5: occurred_at '2026-12-06T10:00:00+09:00' is after today (2026-12-05)",
        "line 6: occurred_at '2031-01-01' is after today (2026-12-05)",
        "line 7: amount 'abc' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 8: amount 'NaN' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 9: amount '1e3' is not an amount such as 1200, 1,200, ¥1,200 or 1200.50",
        "line 10: currency 'RMB' is not an ISO 4217 code such as JPY, USD or EUR",
        "line 11: currency 'ABC' is not an ISO 4217 code such as JPY, USD or EUR",
    ]
    assert sorted(session.scalars(select(Purchase.external_id))) == ["O1", "O11", "O2"]


def test_an_interaction_dated_after_today_is_rejected(load: Load) -> None:
    report = load("interactions", "customer,occurred_at,kind,summary\nA1,2026-12-07,call,Not yet\n")
    assert messages(report)[0].startswith("line 2: occurred_at '2026-12-07' is after today (2026-12-05)")


def test_the_day_ends_at_the_later_midnight_so_an_evening_export_west_of_utc_imports() -> None:
    """An export made at 18:00 in Los Angeles on the 5th holds times of the 6th in UTC."""
    los_angeles = dt.datetime(2026, 12, 5, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    batch = Batch(pd.DataFrame(), RowProblems(pd.Index([])), lambda _rows: None, los_angeles)
    assert batch.end_of_today == dt.datetime(2026, 12, 6, 8, 0)


def test_purchases_without_order_id_are_not_doubled_by_reimport(load: Load, session: Session) -> None:
    factories.customer(session, "Acme", external_id="A1", email="a@acme.jp")
    text = "customer,occurred_at,amount\nA1,2026-11-01,100\nA1,2026-11-01,200\nA1,2026-11-01,100\n"
    first = load("purchases", text)
    assert messages(first) == [
        f"line 4: order '{_derived_key(session, Decimal('100'))}' is already on line 2"
    ]
    same_order_by_email = load(
        "purchases", "customer,occurred_at,amount\na@acme.jp,2026-11-01 00:00,100.00\n"
    )
    assert (first.new, same_order_by_email.new, same_order_by_email.unchanged) == (2, 0, 1)
    assert count(session, Purchase) == 2


def _derived_key(session: Session, amount: Decimal) -> str:
    return session.scalars(select(Purchase.external_id).where(Purchase.amount == amount)).one() or ""


def test_purchases_file_with_wrong_columns_is_refused_whole(load: Load, session: Session) -> None:
    with pytest.raises(ImportFileError) as missing:
        load("purchases", "Customer,When,Cost\nA1,2026-11-01,100\n")
    assert missing.value.message.endswith(
        "purchases.csv: missing columns occurred_at, amount; found: Customer, When, Cost. "
        "Purchases need customer, occurred_at, amount (optional: currency, external_id)."
    )
    with pytest.raises(ImportFileError, match="seems not to be comma-separated"):
        load("purchases", "customer;occurred_at;amount\nA1;2026-11-01;100\n")
    with pytest.raises(ImportFileError, match="unknown column curency"):
        load("purchases", "customer,occurred_at,amount,curency\nA1,2026-11-01,100,USD\n")
    with pytest.raises(ImportFileError, match="columns 'amount' and 'Amount' both mean amount"):
        load("purchases", "customer,occurred_at,amount,Amount\n")
    with pytest.raises(ImportFileError, match="a column with values has no header name"):
        load("purchases", "customer,occurred_at,amount,\nA1,2026-11-01,100,x\n")
    assert count(session, Purchase) == 0


# interactions


def test_interactions_use_the_chat_validators_and_reimport_is_a_no_op(load: Load, session: Session) -> None:
    factories.customer(session, "Acme", external_id="A1")
    text = (
        "Customer,Occurred_At,Kind,Summary,Author\n"
        "A1,2026-11-01 10:00,Call,電話で見積もりの相談,U0SALES1\n"
        "A1,2026-11-01 10:00,meeting,Same time other kind,\n"
        "A1,2026-11-02,lunch,Ate,\n"
        "A1,2026-11-03,note,,\n"
        "A1,2026-11-01 10:00:00,call,電話で見積もりの相談,U0SALES2\n"
    )
    first, second = load("interactions", text), load("interactions", text)
    assert messages(first) == [
        "line 4: kind 'lunch' is not one of call, meeting, email, chat, note, support, purchase",
        "line 5: summary is empty",
        "line 6: the same interaction is already on line 2",
    ]
    assert (first.new, second.new, second.unchanged) == (2, 0, 2)
    call = session.scalars(select(Interaction).where(Interaction.kind == "call")).one()
    assert (call.summary, call.author, call.source) == ("電話で見積もりの相談", "U0SALES1", "import")
    assert session.scalars(select(Interaction.author).where(Interaction.kind == "meeting")).one() is None


def test_interaction_kinds_accept_every_word_crm_log_accepts(load: Load, session: Session) -> None:
    factories.customer(session, "Acme", external_id="A1")
    words = {**KIND_ALIASES, "購入": "purchase", "ＣＡＬＬ": "call", "ﾒｰﾙ": "email"}
    lines = [f"A1,2026-11-01 10:{minute:02},{word},said {word}" for minute, word in enumerate(words)]
    report = load("interactions", "customer,occurred_at,kind,summary\n" + "\n".join(lines) + "\n")
    assert (messages(report), report.new) == ([], len(words))
    stored = {
        summary: kind for summary, kind in session.execute(select(Interaction.summary, Interaction.kind))
    }
    assert stored == {f"said {word}": kind for word, kind in words.items()}


def test_chat_and_import_read_kinds_from_one_table() -> None:
    assert grammar.KIND_ALIASES is KIND_ALIASES
    assert grammar.LOGGABLE_KINDS is LOGGABLE_KINDS


# the pipeline


def test_one_audit_event_per_import_with_counts_only(load: Load, session: Session) -> None:
    load("customers", "external_id,name,email\nC1,Taro,taro@x.jp\nC2,,\n")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert len(events) == 1
    assert events[0].detail == {
        "entity": "customers",
        "rows": 2,
        "new": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert (events[0].actor, events[0].surface) == ("cli:tester", "import")


def test_a_failure_after_some_chunks_leaves_the_store_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 2)
    with transaction(engine) as session:
        factories.customer(session, "Acme", external_id="A1")
    path = tmp_path / "p.csv"
    path.write_text("customer,occurred_at,amount\n" + "".join(f"A1,2026-11-01,{n}\n" for n in range(1, 7)))
    written: list[int] = []

    def crash_on_third_chunk(rows: int) -> None:
        written.append(rows)
        if len(written) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), transaction(engine) as session:
        import_table(
            session,
            entity="purchases",
            table=read_table(path),
            actor=ACTOR,
            now=NOW,
            progress=crash_on_third_chunk,
        )
    assert written == [2, 2, 2]
    with transaction(engine) as session:
        assert count(session, Purchase) == 0
