"""Forgiving search over the real store: ranking, exact contact matches, ambiguity and suggestions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, event, select, update
from sqlalchemy.orm import Session

from crm_core.customers.service import get_customer
from crm_core.errors import Ambiguous, NoMatch, NotFound
from crm_core.identity.prefilter import PairIndex
from crm_core.identity.search import CANDIDATE_SCORE, SUGGESTION_SCORE, resolve_customer, search_customers
from crm_core.models import AuditEvent, Customer, CustomerNamesStamp
from crm_core.store import make_engine, reading, transaction
from tests.factories import TEST_ACTOR, customer


def test_name_typed_another_way_finds_the_customer(session: Session) -> None:
    acme = customer(session, "株式会社アクメ")
    customer(session, "Globex Corporation")
    for typed in ("あくめ", "ｱｸﾒ", "アクメ(株)", "アクメ"):
        assert resolve_customer(session, actor=TEST_ACTOR, query=typed).id == acme.id


def test_small_typo_still_resolves_to_the_one_close_name(session: Session) -> None:
    target = customer(session, "Yamada Shoji")
    customer(session, "Globex Corporation")
    assert resolve_customer(session, actor=TEST_ACTOR, query="Yamda Shoji").id == target.id


def test_exact_email_and_phone_match_whatever_the_name(session: Session) -> None:
    taro = customer(session, "山田太郎", email="taro@example.jp", phone="03-1234-5678")
    assert search_customers(session, query="TARO@example.jp")[0].customer.id == taro.id
    assert search_customers(session, query="TARO@example.jp")[0].matched_on == "email"
    assert search_customers(session, query="０３－１２３４－５６７８")[0].customer.id == taro.id


def test_external_id_is_an_exact_match(session: Session) -> None:
    c = customer(session, "Initech", external_id="C-42")
    assert resolve_customer(session, actor=TEST_ACTOR, query="C-42").id == c.id


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
        resolve_customer(session, actor=TEST_ACTOR, query="suzuki ichiro")
    assert len(caught.value.candidates) == 2


def test_close_but_different_names_are_ambiguous(session: Session) -> None:
    customer(session, "Tanaka Foods")
    customer(session, "Tanaka Goods")
    with pytest.raises(Ambiguous):
        resolve_customer(session, actor=TEST_ACTOR, query="Tanaka Hoods")


def test_no_match_says_so_and_suggests_near_names(session: Session) -> None:
    customer(session, "Globex Trading")
    with pytest.raises(NotFound) as caught:
        resolve_customer(session, actor=TEST_ACTOR, query="Glbx")
    assert "Globex" in caught.value.message
    with pytest.raises(NotFound) as nothing:
        resolve_customer(session, actor=TEST_ACTOR, query="zzzzzz")
    assert "Did you mean" not in nothing.value.message


def test_search_sees_customers_added_after_the_index_was_built(session: Session) -> None:
    customer(session, "First One")
    assert search_customers(session, query="Second Two") == []
    second = customer(session, "Second Two")
    assert search_customers(session, query="Second Two")[0].customer.id == second.id


def test_empty_query_finds_nothing(session: Session) -> None:
    customer(session, "Acme")
    assert search_customers(session, query="   ") == []


def test_a_customer_deleted_by_another_replica_is_gone_from_the_next_search(
    engine: Engine, database_url: str
) -> None:
    with transaction(engine) as session:
        gone = customer(session, "Vanishing Trading")
        assert search_customers(session, query="Vanishing Trading")  # caches the index
    other_replica = make_engine(database_url)
    try:
        with other_replica.begin() as connection:
            connection.execute(delete(Customer).where(Customer.id == gone.id))
    finally:
        other_replica.dispose()
    with transaction(engine) as session:
        assert search_customers(session, query="Vanishing Trading") == []


def test_a_rename_by_another_replica_is_seen_by_the_next_search(engine: Engine, database_url: str) -> None:
    with transaction(engine) as session:
        renamed = customer(session, "Old Name Shoji")
        assert search_customers(session, query="Old Name Shoji")
    other_replica = make_engine(database_url)
    try:
        with other_replica.begin() as connection:
            connection.execute(
                update(Customer)
                .where(Customer.id == renamed.id)
                .values(name="Brand New", name_key="brand new")
            )
    finally:
        other_replica.dispose()
    with transaction(engine) as session:
        assert search_customers(session, query="Old Name Shoji") == []
        assert search_customers(session, query="Brand New")[0].customer.id == renamed.id


def test_an_index_cached_inside_a_rolled_back_transaction_is_not_reused(engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as session:
        customer(session, "Rolled Back Foods")
        assert search_customers(session, query="Rolled Back Foods")  # cached with the new customer
        raise RuntimeError("the action failed")
    with transaction(engine) as session:
        kept = customer(session, "Kept Foods")  # the next change must not look like the undone one
    with transaction(engine) as session:
        assert [m.customer.id for m in search_customers(session, query="Kept Foods")][:1] == [kept.id]
        assert search_customers(session, query="Rolled Back Foods", cutoff=99) == []


def test_search_stays_correct_when_the_stamp_row_is_gone(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "First One")
        assert search_customers(session, query="First One")
        session.execute(delete(CustomerNamesStamp))
        second = customer(session, "Second Two")  # the trigger puts the row back
        session.execute(delete(CustomerNamesStamp))
        session.execute(delete(Customer).where(Customer.id == second.id))
        assert search_customers(session, query="Second Two") == []


def test_editing_other_fields_keeps_the_cached_index(session: Session) -> None:
    acme = customer(session, "Acme")
    search_customers(session, query="Acme")
    stamp = session.scalar(select(CustomerNamesStamp.stamp))
    session.execute(update(Customer).where(Customer.id == acme.id).values(company="Acme Holdings"))
    assert session.scalar(select(CustomerNamesStamp.stamp)) == stamp


def _others(session: Session) -> None:
    """Hundreds of other names, so that the pair prefilter, not an empty store, decides who is scored."""
    for number in range(300):
        customer(session, f"Other Customer {number:03d}")
    for name in ("Acme Trading", "Globex", "Itoh Foods", "山田 花子", "山本 太郎", "Shoji Holdings"):
        customer(session, name)


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Yamada Shoji", "YAMADA SHOJI"),  # upper case
        ("Yamada Shoji", "yamadashoji"),  # the space left out
        ("Shoji Yamada", "Yamada Shoji"),  # the words swapped
        ("Yamada Shoji", "Yamda Shoji"),  # a letter missing
        ("株式会社アクメ", "あくめ"),  # kana, designator
    ],
)
def test_names_typed_another_way_resolve_among_many_others(session: Session, stored: str, typed: str) -> None:
    _others(session)
    target = customer(session, stored)
    assert resolve_customer(session, actor=TEST_ACTOR, query=typed).id == target.id


def _found(session: Session, typed: str, cutoff: float) -> list[tuple[int, float]]:
    return [(m.customer.id, m.score) for m in search_customers(session, query=typed, cutoff=cutoff)]


def _boundary_store(session: Session) -> None:
    _others(session)
    for name in ("Acme", "Ito", "山田 太郎", "I. M. Pei"):
        customer(session, name)


@pytest.mark.parametrize(
    "typed",
    ["Acne", "Acm", "Acmee", "cAme", "Ito", "Itoo", "I", "Glbx", "山田太朗", "田山 太郎", "Globex Acme"],
)
@pytest.mark.parametrize("cutoff", [CANDIDATE_SCORE, SUGGESTION_SCORE])
def test_the_prefilter_keeps_what_scoring_every_name_finds_in_short_names(
    session: Session, monkeypatch: pytest.MonkeyPatch, typed: str, cutoff: float
) -> None:
    """One-letter typos in short names, a missing space, swapped words: the boundary of the prefilter."""
    _boundary_store(session)
    found = _found(session, typed, cutoff)
    monkeypatch.setattr(PairIndex, "candidates", lambda _index, _key: None)  # score every key
    assert found == _found(session, typed, cutoff)


def test_each_pair_the_query_shares_counts_once() -> None:
    """ "ibeh" and "eghlo" share one pair ("eh", at distance two in "eghlo"); a third of ibeh's five
    pairs is two. Before 790acd6 a query pair the index lacks that sorted just before a pair it
    holds found that pair's postings too, and counted "eh" twice: "ibeh" was scored (and offered as
    a "did you mean" in small stores). Each shared pair now counts once, as the module says."""
    assert PairIndex.of(["ibeh"]).candidates("eghlo").tolist() == []
    assert PairIndex.of(["ibeh"]).candidates("ibex").tolist() == [0]  # ib, be, ie: three shared


@pytest.mark.parametrize("typed", ["It", "山田"])
def test_a_two_character_query_is_not_offered_names_sharing_one_character(
    session: Session, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    """WRatio rates any name holding one of two typed characters 60; the prefilter drops those alone."""
    _boundary_store(session)
    found = {cutoff: _found(session, typed, cutoff) for cutoff in (CANDIDATE_SCORE, SUGGESTION_SCORE)}
    monkeypatch.setattr(PairIndex, "candidates", lambda _index, _key: None)
    assert found[CANDIDATE_SCORE] == _found(session, typed, CANDIDATE_SCORE)
    everything = _found(session, typed, SUGGESTION_SCORE)
    assert found[SUGGESTION_SCORE] == [(i, score) for i, score in everything if score > 60.0 + 1e-9]


@pytest.mark.parametrize("typed", ["Acne", "Acmr", "Amce", "Acm", "Acmee", "cme"])
@pytest.mark.parametrize(
    ("target", "other"),
    [
        ("Acme Inc.", "Whitespace Inc"),
        ("Acme K.K.", "Whitespace K.K."),
        ("Acme Co., Ltd.", "Whitespace Co., Ltd."),
    ],
)
def test_a_typo_beats_a_name_sharing_only_a_designator(
    session: Session, typed: str, target: str, other: str
) -> None:
    """Issue 11.1: WRatio's partial match found "ace" at the end of "whitespace" and ranked it first."""
    acme = customer(session, target)
    customer(session, other)
    assert [m.customer.id for m in search_customers(session, query=typed, cutoff=SUGGESTION_SCORE)] == [
        acme.id
    ]


def test_a_name_sharing_only_a_designator_is_not_listed(session: Session) -> None:
    customer(session, "Acme Inc.")
    whitespace = customer(session, "Whitespace Inc")
    assert [m.customer.id for m in search_customers(session, query="Whitespace")] == [whitespace.id]
    assert [m.customer.id for m in search_customers(session, query="Whitespace Inc.")] == [whitespace.id]


def test_japanese_designators_do_not_make_names_alike(session: Session) -> None:
    acme = customer(session, "株式会社アクメ")
    customer(session, "ホワイト株式会社")
    assert [
        m.customer.id for m in search_customers(session, query="アクメ(株)", cutoff=SUGGESTION_SCORE)
    ] == [acme.id]


def test_a_partial_match_at_the_start_of_a_word_still_counts(session: Session) -> None:
    """What the partial match is for: a name typed in part, from the start of one of its words."""
    trading = customer(session, "Acme Trading")
    customer(session, "Whitespace Inc")
    for typed in ("Acme", "Trading", "rading", "Acm Tr"):
        assert search_customers(session, query=typed)[0].customer.id == trading.id


@pytest.mark.parametrize("typed", ["Acme Inc.", "ACME INC", "Acme, Inc", "Acme Incorporated"])
def test_a_whole_name_with_its_designator_picks_that_customer(session: Session, typed: str) -> None:
    """Issue 11.2: three customers share the key "acme"; the designator typed says which one."""
    inc = customer(session, "Acme Inc.")
    llc = customer(session, "Acme LLC")
    co_ltd = customer(session, "Acme Co., Ltd.")
    assert resolve_customer(session, actor=TEST_ACTOR, query=typed).id == inc.id
    assert resolve_customer(session, actor=TEST_ACTOR, query="Acme LLC").id == llc.id
    assert resolve_customer(session, actor=TEST_ACTOR, query="acme co ltd").id == co_ltd.id
    assert [m.score for m in search_customers(session, query=typed)] == [100, 99, 99]


def test_a_bare_name_shared_by_several_designators_stays_ambiguous(session: Session) -> None:
    customer(session, "Acme Inc.")
    customer(session, "Acme LLC")
    with pytest.raises(Ambiguous) as caught:
        resolve_customer(session, actor=TEST_ACTOR, query="Acme")
    assert len(caught.value.candidates) == 2
    bare = customer(session, "Acme")
    assert resolve_customer(session, actor=TEST_ACTOR, query="Acme").id == bare.id


def test_a_name_many_share_reads_their_rows_once(session: Session) -> None:
    """The rows read to weigh designators are the rows shown, read with the exact match and the
    names stamp in one statement (issue 13)."""
    for number in range(12):
        customer(session, "John Smith" if number % 2 else "John Smith LLC", external_id=f"C-{number}")
    search_customers(session, query="John Smith")  # the name index is built here, not below
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        matches = search_customers(session, query="John Smith LLC")
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert [m.customer.name for m in matches[:6]] == ["John Smith LLC"] * 6
    assert {m.customer.name for m in matches[6:]} == {"John Smith"}
    # The index being current, one statement: the exact match on the external id, the names
    # stamp, and the customers the index scored best, which are the ones shown.
    assert len(statements) == 1, statements
    assert "customer_names_stamp" in statements[0]


def test_a_designator_typed_breaks_a_tie_between_names_otherwise_exact(session: Session) -> None:
    customer(session, "Acme Inc.")
    ltd = customer(session, "Acme Co., Ltd.")
    assert search_customers(session, query="Acme Ltd")[0].customer.id == ltd.id


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("森 誠", "森誠"), ("森誠", "森 誠"), ("山田 太郎", "山田太郎"), ("アクメ 商事", "あくめ商事")],
)
def test_spacing_in_cjk_names_carries_no_meaning(session: Session, stored: str, typed: str) -> None:
    """Issue 11.5: 森誠 is 森 誠, an exact match, even among many other names."""
    _others(session)
    target = customer(session, stored)
    customer(session, "森 誠一")
    assert search_customers(session, query=typed)[0].customer.id == target.id
    assert search_customers(session, query=typed)[0].score == 100
    assert search_customers(session, query=typed, cutoff=99)[0].customer.id == target.id


def test_latin_spacing_still_tells_names_apart(session: Session) -> None:
    customer(session, "Acme Trading")
    assert search_customers(session, query="Acmetrading")[0].score < 100


@pytest.mark.parametrize(("typed", "kind"), [("newguy@acme.com", "email"), ("0312345679", "phone")])
def test_an_email_or_phone_nobody_has_matches_nothing_rather_than_names(
    session: Session, typed: str, kind: str
) -> None:
    """Issue 11.4: an address nobody has listed three Acmes; it is a customer to create."""
    for name in ("Acme Inc.", "Acme Trading", "Acme LLC", "Store 0312345678", "newguy"):
        customer(session, name)
    assert search_customers(session, query=typed, cutoff=SUGGESTION_SCORE) == []
    with pytest.raises(NoMatch) as caught:
        resolve_customer(session, actor=TEST_ACTOR, query=typed)
    assert (caught.value.contact, caught.value.key, caught.value.suggestions) == (
        kind,
        f"customer.no_{kind}_match",
        (),
    )


def test_an_email_or_phone_someone_has_is_still_found(session: Session) -> None:
    taro = customer(session, "Taro", email="taro@example.jp", phone="03-1234-5678")
    assert [(m.customer.id, m.matched_on) for m in search_customers(session, query="Taro@Example.jp")] == [
        (taro.id, "email")
    ]
    assert [(m.customer.id, m.matched_on) for m in search_customers(session, query="03 1234 5678")] == [
        (taro.id, "phone")
    ]


def test_a_match_carries_the_customer_as_stored(session: Session) -> None:
    custom = {"plan": "gold", "seats": 12, "担当": "山田", "ratio": 2.5, "trial": True, "note": None}
    acme = customer(
        session,
        "Acme Trading",
        email="info@acme.example",
        phone="03-1111-2222",
        company="Acme Holdings",
        owner_id="U_OWNER",
        tags=["vip", "tokyo"],
        custom_fields=custom,
        external_id="C-ACME",
    )
    stored = get_customer(session, actor=TEST_ACTOR, external_id="C-ACME")
    for typed in ("info@acme.example", "03-1111-2222", "C-ACME", "Acme Trading"):
        [match] = search_customers(session, query=typed)
        assert match.customer == stored == acme
        assert match.customer.custom_fields == custom  # not compared by ==
        assert match.customer.tags == ("tokyo", "vip")  # kept sorted


def test_a_customer_added_earlier_in_the_transaction_is_found_by_its_email(session: Session) -> None:
    session.add(Customer(external_id="C-NEW", name="Newcomer", name_key="newcomer", email="new@example.jp"))
    [match] = search_customers(session, query="new@example.jp")
    assert (match.customer.external_id, match.matched_on) == ("C-NEW", "email")


def test_a_search_inside_a_reading_unit_keeps_its_audit_rows_for_after(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "Acme", email="info@acme.example", external_id="C-ACME")
    with reading(engine) as session:
        get_customer(session, actor=TEST_ACTOR, external_id="C-ACME")  # an audit row, pending
        assert search_customers(session, query="info@acme.example")[0].customer.external_id == "C-ACME"
        assert search_customers(session, query="Acme")[0].customer.external_id == "C-ACME"
    with transaction(engine) as session:
        # The last written (by id: a select without ORDER BY has no order on PostgreSQL).
        assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()[-1] == "customer.read"
