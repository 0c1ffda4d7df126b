"""The matching key must make the many ways people type one name compare equal, and only those."""

from __future__ import annotations

import pytest

from crm_core.identity.normalize import (
    is_valid_email,
    looks_like_phone,
    name_designators,
    normalize_email,
    normalize_name,
    phone_digits,
    same_name_key,
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


@pytest.mark.parametrize(
    ("typed", "key", "designators"),
    [
        ("Acme K.K.", "acme", {"kk"}),
        ("Acme KK", "acme", {"kk"}),
        ("Acme L.L.C.", "acme", {"llc"}),
        ("Acme Co., Ltd.", "acme", {"co", "ltd"}),
        ("Acme Limited", "acme", {"ltd"}),
        ("Acme Corporation", "acme", {"corp"}),
        ("Müller AG", "muller", {"ag"}),
        ("㈱アクメ", "アクメ", {"kk"}),
        ("アクメ株式会社", "アクメ", {"kk"}),
        ("アクメ合同会社", "アクメ", {"gk"}),
        ("I. M. Pei", "i m pei", set()),  # initials that are no designator stay
        ("John K", "john k", set()),
    ],
)
def test_designators_leave_the_key_and_are_named_canonically(
    typed: str, key: str, designators: set[str]
) -> None:
    assert normalize_name(typed) == key
    assert name_designators(typed) == designators


def test_spaces_between_cjk_characters_do_not_make_another_name() -> None:
    assert same_name_key("森 誠", "森誠")
    assert same_name_key("山田 太郎", "山 田太郎")
    assert not same_name_key("acme trading", "acmetrading")
    assert not same_name_key("森 誠", "森 誠一")
