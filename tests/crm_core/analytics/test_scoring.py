"""Scoring as a job of its own: kept for the profile card, once a day across replicas, and computed
for a card shown before any run has kept scores."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.analytics.scoring import Outcome, score_if_due, score_now
from crm_core.analytics.stored import latest_score
from crm_core.models import CustomerScore, Purchase
from crm_core.read_models.profile import load_profile
from crm_core.store import transaction
from tests.factories import TEST_ACTOR, customer, lapsing_buyer
from tests.races import Rival, blocked, needs_postgres, race

TODAY = dt.date(2026, 11, 25)
SUPPORT = Actor(user_id="U0SUPPORT", surface="slack", role="support")


def _lapsing_customer(session: Session) -> int:
    return lapsing_buyer(session, today=TODAY, external_id="SLIP", owner_id="U0REP")


def _kept(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CustomerScore)) or 0


def test_kept_scores_reach_the_profile_with_reasons_for_each_role(session: Session) -> None:
    customer_id = _lapsing_customer(session)
    assert load_profile(session, actor=TEST_ACTOR, external_id="SLIP").churn_risk is None

    run = score_now(session, today=TODAY)

    assert (run.outcome, run.scored_on, run.customers) == (Outcome.SCORED, TODAY, 1)
    score = latest_score(session, customer_id=customer_id)
    assert score is not None and (score.scored_on, score.churn_risk) == (TODAY, "at_risk")
    profile = load_profile(session, actor=TEST_ACTOR, external_id="SLIP")
    assert profile.churn_risk is not None
    [rhythm] = profile.churn_risk.reason
    assert (rhythm.key, rhythm.values) == ("churn.reason.own_purchase_rhythm", {"gap": 10, "since": 30})
    seen_by_support = load_profile(session, actor=SUPPORT, external_id="SLIP").churn_risk
    assert seen_by_support is not None and seen_by_support.level == "at_risk"
    assert [part.key for part in seen_by_support.reason] == ["churn.reason.purchases_not_shown"]


def test_the_scheduler_scores_a_day_once_and_never_goes_back_to_an_older_one(session: Session) -> None:
    _lapsing_customer(session)
    assert score_if_due(session, today=TODAY).outcome is Outcome.SCORED
    assert score_if_due(session, today=TODAY).outcome is Outcome.ALREADY_SCORED
    assert score_if_due(session, today=TODAY - dt.timedelta(days=20)).outcome is Outcome.ALREADY_SCORED
    tomorrow = score_if_due(session, today=TODAY + dt.timedelta(days=1))
    assert tomorrow.outcome is Outcome.SCORED
    scored_on = session.scalars(select(CustomerScore.scored_on)).all()
    assert scored_on == [TODAY + dt.timedelta(days=1)]


def test_score_now_scores_again_after_the_data_changed(session: Session) -> None:
    customer_id = _lapsing_customer(session)
    score_now(session, today=TODAY)
    session.add(
        Purchase(
            customer_id=customer_id,
            occurred_at=dt.datetime.combine(TODAY, dt.time(9)),
            amount=1000,
            currency="JPY",
        )
    )
    assert score_now(session, today=TODAY).outcome is Outcome.SCORED
    score = latest_score(session, customer_id=customer_id)
    assert score is not None and score.churn_risk != "at_risk"


def test_a_card_shown_before_any_scoring_computes_the_scores_as_of_its_day(session: Session) -> None:
    _lapsing_customer(session)
    profile = load_profile(session, actor=TEST_ACTOR, external_id="SLIP", today=TODAY)
    assert profile.churn_risk is not None and profile.churn_risk.level == "at_risk"
    [rhythm] = profile.churn_risk.reason
    assert rhythm.values == {"gap": 10, "since": 30}
    assert profile.segment is not None
    assert _kept(session) == 0  # a read keeps nothing: the scoring job does
    seen_by_support = load_profile(session, actor=SUPPORT, external_id="SLIP", today=TODAY).churn_risk
    assert seen_by_support is not None
    assert [part.key for part in seen_by_support.reason] == ["churn.reason.purchases_not_shown"]


def test_once_scores_are_kept_a_card_reads_them_and_computes_nothing(session: Session) -> None:
    _lapsing_customer(session)
    score_now(session, today=TODAY)
    newcomer = customer(session, "Newcomer", external_id="NEW")
    session.add(
        Purchase(customer_id=newcomer.id, occurred_at=dt.datetime(2026, 11, 20), amount=10, currency="JPY")
    )
    session.flush()
    # The newcomer was added after the day's scoring: the next run scores them.
    assert load_profile(session, actor=TEST_ACTOR, external_id="NEW", today=TODAY).churn_risk is None


@needs_postgres
def test_two_replicas_ticking_together_score_the_day_once(engine: Engine) -> None:
    with transaction(engine) as session:
        _lapsing_customer(session)
    runs = []
    rival = race(
        engine,
        lambda session: runs.append(score_if_due(session, today=TODAY)),
        lambda session: score_if_due(session, today=TODAY),
    )
    second = rival.outcome()
    assert [run.outcome for run in runs] == [Outcome.SCORED]
    assert second.outcome is Outcome.RUNNING_ELSEWHERE
    with transaction(engine) as session:
        assert score_if_due(session, today=TODAY).outcome is Outcome.ALREADY_SCORED
        assert _kept(session) == 1


@needs_postgres
def test_scoring_on_request_waits_for_a_run_in_progress_then_scores(engine: Engine) -> None:
    with transaction(engine) as session:
        _lapsing_customer(session)
    with transaction(engine) as session:
        score_if_due(session, today=TODAY)
        rival = Rival(engine, lambda other: score_now(other, today=TODAY))
        assert blocked(rival, engine)  # not two runs replacing the same rows at once
    assert rival.outcome().outcome is Outcome.SCORED
    with transaction(engine) as session:
        assert _kept(session) == 1


def test_before_any_scoring_a_customer_without_history_gets_what_a_scoring_run_gives_them(
    session: Session,
) -> None:
    """Without a purchase or contact by the day, the card does not score the whole store for them."""
    _lapsing_customer(session)
    customer(session, "Just Added", external_id="NEW")
    later = customer(session, "Buys Tomorrow", external_id="LATER")
    session.add(
        Purchase(customer_id=later.id, occurred_at=dt.datetime(2026, 11, 26), amount=10, currency="JPY")
    )
    session.flush()

    def cards() -> list[tuple[object, ...]]:
        ids = ("NEW", "LATER")
        shown = [load_profile(session, actor=TEST_ACTOR, external_id=x, today=TODAY) for x in ids]
        return [(card.segment, card.churn_risk) for card in shown]

    before = cards()
    assert _kept(session) == 0
    score_now(session, today=TODAY)
    assert _kept(session) > 0
    assert before == cards()
    assert before[0][1] is not None and before[0][1].level == "ok" and before[0][1].reason == ()
