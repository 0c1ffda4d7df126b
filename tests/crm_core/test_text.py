"""Hostile text: any Unicode is stored literally, controls are handled, limits are clear messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from crm_core.customers.service import create_customer, get_customer
from crm_core.errors import Ambiguous, InvalidInput, NoMatch
from crm_core.follow_ups.service import add_follow_up
from crm_core.identity.normalize import normalize_name, strip_format_characters
from crm_core.identity.search import resolve_customer, search_customers
from crm_core.interactions.service import log_interaction
from crm_core.text import MAX_QUERY_LENGTH, clean_text, searchable, single_line
from tests.factories import TEST_ACTOR, customer

# Every code point, lone surrogates and controls included: what a str decoded from JSON can hold.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
STORABLE = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
DB_EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOW = dt.datetime(2026, 11, 20, 10, 0)


@given(ANY_TEXT)
def test_clean_text_keeps_every_other_character_literally_or_refuses(text: str) -> None:
    try:
        cleaned = clean_text(text, field="summary", max_length=1_000)
    except InvalidInput as refused:
        assert refused.key == "input.invalid_character"
        assert "\x00" in text or any(unicodedata.category(ch) == "Cs" for ch in text)
        return
    assert not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in cleaned)
    assert cleaned == cleaned.strip()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
    assert cleaned in "".join(ch for ch in lines if ch in "\n\t" or unicodedata.category(ch) != "Cc")


@given(ANY_TEXT)
def test_normalize_name_and_searchable_never_fail(text: str) -> None:
    key = normalize_name(text)
    assert key == " ".join(key.split())
    query = searchable(text)
    query.encode("utf-8")
    assert "\x00" not in query and len(query) <= MAX_QUERY_LENGTH


@DB_EXAMPLES
@given(text=ANY_TEXT)
def test_search_never_fails_on_arbitrary_text(session: Session, text: str) -> None:
    savepoint = session.begin_nested()
    try:
        customer(session, "株式会社アクメ", email="info@acme.example", phone="03-1234-5678")
        search_customers(session, query=text)
        with contextlib.suppress(Ambiguous, NoMatch):
            resolve_customer(session, actor=TEST_ACTOR, query=text)
    finally:
        savepoint.rollback()


@DB_EXAMPLES
@given(name=STORABLE)
def test_any_storable_name_is_kept_literally_and_found_by_its_id(session: Session, name: str) -> None:
    """Kept as typed, minus invisible format characters (zero-width, bidi controls)."""
    visible = strip_format_characters(name)
    savepoint = session.begin_nested()
    try:
        created = create_customer(session, actor=TEST_ACTOR, name=name).customer
    except InvalidInput as refused:
        assert refused.key == "input.name_empty" and not visible.split()
        savepoint.rollback()
        return
    try:
        assert created.name == " ".join(visible.split())
        assert get_customer(session, actor=TEST_ACTOR, external_id=created.external_id).name == created.name
        assert resolve_customer(session, actor=TEST_ACTOR, query=created.external_id).id == created.id
    finally:
        savepoint.rollback()


def test_control_characters_are_dropped_and_line_breaks_kept(session: Session) -> None:
    acme = customer(session, "Acme\x1b[31m\x07 Inc.")
    assert acme.name == "Acme[31m Inc."
    logged, _ = log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id=acme.external_id,
        kind="note",
        summary="line one\r\nline\x0btwo\ttabbed\x7f",
        occurred_at=NOW,
    )
    assert logged.summary == "line one\nlinetwo\ttabbed"


@pytest.mark.parametrize("text", ["nul\x00here", "lone \ud800 surrogate"])
def test_nul_and_lone_surrogates_are_refused_wherever_text_is_stored(session: Session, text: str) -> None:
    acme = customer(session).external_id
    attempts = [
        lambda: create_customer(session, actor=TEST_ACTOR, name=text),
        lambda: create_customer(session, actor=TEST_ACTOR, name="A", company=text),
        lambda: create_customer(session, actor=TEST_ACTOR, name="A", tags=[text]),
        lambda: create_customer(session, actor=TEST_ACTOR, name="A", custom_fields={"x": text}),
        lambda: log_interaction(
            session, actor=TEST_ACTOR, customer_external_id=acme, kind="note", summary=text, occurred_at=NOW
        ),
        lambda: add_follow_up(
            session, actor=TEST_ACTOR, customer_external_id=acme, due_on=NOW.date(), note=text
        ),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput, match="cannot be stored") as refused:
            attempt()
        assert refused.value.key == "input.invalid_character"


@pytest.mark.parametrize(
    ("fields", "message", "key"),
    [
        ({"company": "x" * 201}, "company is longer than 200", "input.company_too_long"),
        ({"email": "a" * 250 + "@x.jp"}, "email is longer than 254", "input.email_too_long"),
        ({"phone": "1" * 41}, "phone is longer than 40", "input.phone_too_long"),
        ({"external_id": "x" * 65}, "external id is longer than 64", "input.external_id_too_long"),
        ({"tags": ["x" * 65]}, "tag is longer than 64", "input.tag_too_long"),
        ({"tags": [f"t{i}" for i in range(51)]}, "at most 50 tags", "input.too_many_tags"),
        ({"custom_fields": {f"f{i}": "" for i in range(101)}}, "at most 100", "input.too_many_custom_fields"),
        (
            {"custom_fields": {"x": "y" * 2001}},
            "custom field is longer than 2000",
            "input.custom_field_too_long",
        ),
        ({"custom_fields": {" ": "y"}}, "has no name", "input.custom_field"),
        ({"custom_fields": {"x": float("nan")}}, "must hold text, a number", "input.custom_field"),
        ({"custom_fields": {"x": {"nested": 1}}}, "must hold text, a number", "input.custom_field"),
    ],
)
def test_limits_are_clear_messages(
    session: Session, fields: dict[str, object], message: str, key: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        create_customer(session, actor=TEST_ACTOR, name="Acme", **fields)  # type: ignore[arg-type]
    assert refused.value.key == key


def test_single_line_values_keep_their_unicode(session: Session) -> None:
    created = create_customer(
        session,
        actor=TEST_ACTOR,
        name="Zoë 🍣 <!channel> '; DROP TABLE customers;--",
        company="株式会社\u3000アクメ",
        tags=["  ＶＩＰ  ", "ＶＩＰ"],
        custom_fields={"メモ": "改行\nあり", "count": 3, "ok": True, "none": None},
    ).customer
    assert created.name == "Zoë 🍣 <!channel> '; DROP TABLE customers;--"
    assert created.company == "株式会社 アクメ"
    assert created.tags == ("ＶＩＰ",)
    assert created.custom_fields == {"メモ": "改行\nあり", "count": 3, "ok": True, "none": None}
    assert single_line(" a \n b ", field="name", max_length=5) == "a b"
