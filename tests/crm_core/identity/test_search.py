"""Forgiving search over the real store: ranking, exact contact matches, ambiguity and suggestions."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_core.errors import Ambiguous, NotFound
from crm_core.identity.search import resolve_customer, search_customers
from tests.factories import customer


def test_name_typed_another_way_finds_the_customer(session: Session) -> None:
    acme = customer(session, "株式会社アクメ")
    customer(session, "Globex Corporation")
    for typed in ("あくめ", "ｱｸﾒ", "アクメ(株)", "アクメ"):
        assert resolve_customer(session, query=typed).id == acme.id


def test_small_typo_still_resolves_to_the_one_close_name(session: Session) -> None:
    target = customer(session, "Yamada Shoji")
    customer(session, "Globex Corporation")
    assert resolve_customer(session, query="Yamda Shoji").id == target.id


def test_exact_email_and_phone_match_whatever_the_name(session: Session) -> None:
    taro = customer(session, "山田太郎", email="taro@example.jp", phone="03-1234-5678")
    assert search_customers(session, query="TARO@example.jp")[0].customer.id == taro.id
    assert search_customers(session, query="TARO@example.jp")[0].matched_on == "email"
    assert search_customers(session, query="０３－１２３４－５６７８")[0].customer.id == taro.id


def test_external_id_is_an_exact_match(session: Session) -> None:
    c = customer(session, "Initech", external_id="C-42")
    assert resolve_customer(session, query="C-42").id == c.id


def test_results_are_ranked_best_first(session: Session) -> None:
    customer(session, "Acme Trading")
    exact = customer(session, "Acme")
    matches = search_customers(session, query="acme")
    assert matches[0].customer.id == exact.id
    assert matches[0].score == 100
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_two_equally_good_matches_are_offered_not_guessed(session: Session) -> None:
    customer(session, "Suzuki Ichiro", email="ichiro@a.jp")
    customer(session, "Suzuki Ichiro", email="ichiro@b.jp")
    with pytest.raises(Ambiguous) as caught:
        resolve_customer(session, query="suzuki ichiro")
    assert len(caught.value.candidates) == 2


def test_close_but_different_names_are_ambiguous(session: Session) -> None:
    customer(session, "Tanaka Foods")
    customer(session, "Tanaka Goods")
    with pytest.raises(Ambiguous):
        resolve_customer(session, query="Tanaka Hoods")


def test_no_match_says_so_and_suggests_near_names(session: Session) -> None:
    customer(session, "Globex Trading")
    with pytest.raises(NotFound) as caught:
        resolve_customer(session, query="Glbx")
    assert "Globex" in caught.value.message
    with pytest.raises(NotFound) as nothing:
        resolve_customer(session, query="zzzzzz")
    assert "Did you mean" not in nothing.value.message


def test_search_sees_customers_added_after_the_index_was_built(session: Session) -> None:
    customer(session, "First One")
    assert search_customers(session, query="Second Two") == []
    second = customer(session, "Second Two")
    assert search_customers(session, query="Second Two")[0].customer.id == second.id


def test_empty_query_finds_nothing(session: Session) -> None:
    customer(session, "Acme")
    assert search_customers(session, query="   ") == []
