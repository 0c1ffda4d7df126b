"""The matching key must make the many ways people type one name compare equal, and only those."""

from __future__ import annotations

import pytest

from crm_core.identity.normalize import (
    is_valid_email,
    looks_like_phone,
    normalize_email,
    normalize_name,
    phone_digits,
)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ｱｸﾒ", "アクメ"),  # half-width katakana
        ("あくめ", "アクメ"),  # hiragana
        ("株式会社アクメ", "アクメ"),  # designator before
        ("アクメ株式会社", "アクメ"),  # designator after
        ("アクメ 株式会社", "アクメ"),
        ("㈱アクメ", "アクメ"),  # the one-character (株)
        ("(株)アクメ", "アクメ"),
        ("有限会社アクメ", "アクメ"),
        ("合同会社アクメ", "アクメ"),
        ("ＡＣＭＥ", "acme"),  # full-width Latin
        ("Acme Inc.", "acme"),
        ("ACME, Ltd.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme LLC", "acme"),
        ("Müller GmbH", "muller"),  # umlaut
        ("Mu\u0308ller", "muller"),  # the same umlaut, decomposed
        ("Café Crème", "cafe creme"),
        ("O'Brien", "obrien"),  # apostrophes vanish rather than split the word
        ("O’Brien", "obrien"),
        ("  Acme   Trading  ", "acme trading"),
        ("🍣 Sushi Dai 🍣", "sushi dai"),  # emoji are decoration
    ],
)
def test_variants_share_one_key(typed: str, canonical: str) -> None:
    assert normalize_name(typed) == canonical


def test_japanese_voicing_marks_are_not_stripped_like_accents() -> None:
    assert normalize_name("がっこう") == "ガッコウ"
    assert normalize_name("がっこう") != normalize_name("かっこう")


def test_a_designator_alone_is_still_a_name() -> None:
    assert normalize_name("Co") == "co"


def test_designators_inside_a_name_are_kept() -> None:
    assert normalize_name("Co-op Kobe") == "co op kobe"


def test_sql_looking_text_is_just_text() -> None:
    assert normalize_name("Robert'); DROP TABLE customers;--") == "robert drop table customers"


def test_email_is_trimmed_and_lowercased_with_width_folded() -> None:
    assert normalize_email("  Taro.Yamada@Example.JP ") == "taro.yamada@example.jp"
    assert normalize_email("ｔａｒｏ@example.jp") == "taro@example.jp"


@pytest.mark.parametrize("address", ["a@b.jp", "taro.yamada+crm@example.co.jp"])
def test_valid_emails(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize("address", ["", "a@b", "no-at.example.jp", "a b@example.jp", "a@@b.jp"])
def test_invalid_emails(address: str) -> None:
    assert not is_valid_email(address)


def test_phone_digits_fold_width_and_layout() -> None:
    assert phone_digits("03-1234-5678") == "0312345678"
    assert phone_digits("０３（１２３４）５６７８") == "0312345678"
    assert looks_like_phone("+81 3 1234 5678")
    assert not looks_like_phone("Acme 2")
