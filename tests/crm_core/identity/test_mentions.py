"""Which customer a thread names: only a clear winner is preselected."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_core.identity.mentions import customer_named_in
from tests.factories import TEST_ACTOR, customer


@pytest.fixture
def named(session: Session) -> dict[str, int]:
    customers = [
        customer(session, "Acme Inc.", email="buyer@acme.example"),
        customer(session, "Acme Holdings"),
        customer(session, "株式会社山田商事", phone="03-1234-5678"),
        customer(session, "Globex Corporation"),
        customer(session, "Go"),
    ]
    return {c.name: c.id for c in customers}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("@U1: Hi, Bob from ACME, Inc. here.\n@U2: Our order is late", "Acme Inc."),
        ("@U1: acme's order is late; acme called twice", "Acme Inc."),
        ("@U1: The Acme Holdings account wants a refund", "Acme Holdings"),
        ("@U1: 山田商事の田中です。請求書が届いていません", "株式会社山田商事"),
        ("@U1: ｶﾌﾞｼｷｶﾞｲｼｬ? いいえ、(株)山田商事です", "株式会社山田商事"),
        ("@U1: mail from Buyer@Acme.example about the invoice", "Acme Inc."),
        ("@U1: call back on ０３−１２３４−５６７８", "株式会社山田商事"),
        ("@U1: call back on +81 3 1234 5678", "株式会社山田商事"),  # issue 11.5: the country code too
    ],
)
def test_a_thread_naming_one_customer_preselects_it(
    session: Session, named: dict[str, int], text: str, name: str
) -> None:
    found = customer_named_in(session, actor=TEST_ACTOR, text=text)
    assert found is not None and found.id == named[name]


@pytest.mark.parametrize(
    "text",
    [
        "@U1: Acme and Globex both called",  # two customers: no clear winner
        "@U1: buyer@acme.example forwarded Globex's question",
        "@U1: Acmee called",  # a typo is not a name
        "@U1: the acmeville office",  # part of a word is not a name
        "@U1: ready to go?",  # a customer called "Go" is too short to tell from the word
        "@U1: nothing about any customer",
        "",
    ],
)
def test_no_clear_winner_preselects_nobody(session: Session, named: dict[str, int], text: str) -> None:
    assert customer_named_in(session, actor=TEST_ACTOR, text=text) is None
