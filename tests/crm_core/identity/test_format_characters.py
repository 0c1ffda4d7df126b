"""Invisible format characters (zero-width, bidi controls) never make one customer look like two."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_core.errors import DuplicateCustomer
from crm_core.identity.normalize import normalize_email, normalize_name, strip_format_characters
from tests.factories import customer

# Zero-width space, zero-width non-joiner and joiner, word joiner, byte-order mark, soft hyphen, and
# the bidirectional controls: embeddings, overrides, isolates, marks.
FORMAT_CHARACTERS = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u202a",
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
]


@pytest.mark.parametrize("invisible", FORMAT_CHARACTERS, ids=[f"U+{ord(c):04X}" for c in FORMAT_CHARACTERS])
def test_format_characters_vanish_from_the_keys(invisible: str) -> None:
    assert normalize_email(f"alice{invisible}@acme.example") == "alice@acme.example"
    assert normalize_name(f"Ac{invisible}me Trading") == "acme trading"
    assert strip_format_characters(f"{invisible}Acme{invisible}") == "Acme"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"email": "alice@acme.example"}, {"email": "alice\u200b@acme.example"}),
        ({"email": "alice@acme.example"}, {"email": "\u202ealice@acme.example\u202c"}),
        ({"phone": "03-1234-5678"}, {"phone": "03-1234\u2060-5678"}),
    ],
    ids=["zero-width e-mail", "bidi e-mail", "word-joined phone"],
)
def test_an_invisible_character_does_not_pass_the_duplicate_check(
    session: Session, first: dict[str, str], second: dict[str, str]
) -> None:
    existing = customer(session, "Alice", **first)
    with pytest.raises(DuplicateCustomer) as refused:
        customer(session, "Alice Twin", **second)
    assert refused.value.existing_external_id == existing.external_id


def test_names_and_phones_are_kept_as_typed_minus_the_controls(session: Session) -> None:
    created = customer(
        session,
        "\u202eAc\u200bme \u200d Trading 株式会社\u2069",
        email="Bob\ufeff@Acme.example",
        phone="03\u200b-1234-5678",
    )
    assert created.name == "Acme Trading 株式会社"
    assert created.email == "bob@acme.example"
    assert created.phone == "03-1234-5678"
