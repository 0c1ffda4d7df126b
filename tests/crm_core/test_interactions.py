"""The timeline: one interaction per Slack thread, however often it is logged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.errors import InvalidInput, NotFound
from crm_core.interactions.service import (
    InteractionView,
    Outcome,
    SlackThread,
    customers_touched_by,
    log_interaction,
)
from crm_core.models import AuditEvent, Interaction
from crm_core.store import reading, transaction
from tests.factories import TEST_ACTOR, customer
from tests.races import needs_postgres, race

WHEN = dt.datetime(2026, 11, 25, 9, 30)


def test_the_same_thread_logged_twice_updates_one_interaction(session: Session) -> None:
    customer(session, "Acme", external_id="A")
    thread = SlackThread("C1", "1700000000.000100", "https://example.slack.com/archives/C1/p1700000000000100")
    first, created = log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id="A",
        kind="support",
        summary="v1",
        occurred_at=WHEN,
        thread=thread,
    )
    second, created_again = log_interaction(
        session,
        actor=TEST_ACTOR,
        customer_external_id="A",
        kind="support",
        summary="v2",
        occurred_at=WHEN,
        thread=thread,
    )
    assert (created, created_again) == (Outcome.CREATED, Outcome.UPDATED)
    assert first.id == second.id
    assert second.summary == "v2"
    assert second.permalink == thread.permalink
    assert session.scalar(select(func.count()).select_from(Interaction)) == 1


def test_a_thread_logged_again_takes_the_latest_customer_and_kind_and_says_when_nothing_changed(
    session: Session,
) -> None:
    customer(session, "Acme", external_id="A")
    globex = customer(session, "Globex", external_id="G")
    thread = SlackThread("C1", "1700000000.000100")

    def log(customer_external_id: str, kind: str) -> tuple[InteractionView, Outcome]:
        return log_interaction(
            session,
            actor=TEST_ACTOR,
            customer_external_id=customer_external_id,
            kind=kind,
            summary="the thread",
            occurred_at=WHEN,
            thread=thread,
        )

    first, _ = log("A", "support")
    moved, outcome = log("G", "call")
    assert (moved.id, moved.customer_id, moved.kind, outcome) == (
        first.id,
        globex.id,
        "call",
        Outcome.UPDATED,
    )
    assert log("G", "call")[1] is Outcome.UNCHANGED
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["interaction.log", "interaction.update"]


def test_customers_touched_by_someone_are_theirs_only_most_recent_first(session: Session) -> None:
    acme, globex, initech = (customer(session, name) for name in ("Acme", "Globex", "Initech"))
    me, colleague = Actor("U0ME", "slack", "sales"), Actor("U0THEM", "slack", "sales")
    for actor, who, day in [(me, acme, 1), (me, globex, 3), (me, acme, 2), (colleague, initech, 9)]:
        log_interaction(
            session,
            actor=actor,
            customer_external_id=who.external_id,
            kind="call",
            summary="x",
            occurred_at=dt.datetime(2026, 11, day, 9),
        )
    touched = customers_touched_by(session, actor=TEST_ACTOR, author="U0ME")
    assert [(t.customer.name, t.last_touched_at.day) for t in touched] == [("Globex", 3), ("Acme", 2)]
    assert [
        t.customer.name for t in customers_touched_by(session, actor=TEST_ACTOR, author="U0ME", limit=1)
    ] == ["Globex"]
    assert customers_touched_by(session, actor=TEST_ACTOR, author="U0NOBODY") == []


@pytest.mark.parametrize(("kind", "summary"), [("dance", "x"), ("call", "   ")])
def test_bad_kind_or_empty_summary_is_refused(session: Session, kind: str, summary: str) -> None:
    customer(session, "Acme", external_id="A")
    with pytest.raises(InvalidInput):
        log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="A", kind=kind, summary=summary, occurred_at=WHEN
        )


def test_unknown_customer_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="nope", kind="call", summary="x", occurred_at=WHEN
        )


def test_logging_inside_a_reading_unit_is_refused_and_writes_nothing(engine: Engine) -> None:
    """The row goes to the connection at once, so ``reading`` cannot see it pending: refused first."""
    with transaction(engine) as session:
        customer(session, "Acme", external_id="A")
    with pytest.raises(RuntimeError, match="only audit rows"), reading(engine) as session:
        log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="A", kind="call", summary="hi", occurred_at=WHEN
        )
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Interaction)) == 0


def test_a_log_and_its_audit_row_commit_together_and_roll_back_together(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "Acme", external_id="A")
    with transaction(engine) as session:
        logged, _ = log_interaction(
            session, actor=TEST_ACTOR, customer_external_id="A", kind="call", summary="kept", occurred_at=WHEN
        )
    with pytest.raises(LookupError), transaction(engine) as session:
        log_interaction(
            session,
            actor=TEST_ACTOR,
            customer_external_id="A",
            kind="call",
            summary="undone",
            occurred_at=WHEN,
        )
        raise LookupError("the reply failed")
    with transaction(engine) as session:
        assert session.scalars(select(Interaction.summary)).all() == ["kept"]
        logs = session.execute(
            select(AuditEvent.actor, AuditEvent.surface, AuditEvent.customer_id, AuditEvent.allowed).where(
                AuditEvent.action == "interaction.log"
            )
        ).all()
        assert logs == [("U_TEST", "cli", logged.customer_id, True)]
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "interaction.log")).one()
        stored = session.scalars(select(Interaction)).one()
    assert (stored.id, stored.author, stored.source, stored.occurred_at) == (logged.id, "U_TEST", "cli", WHEN)
    # Stamped when written, as the ORM's defaults stamp them (on PostgreSQL both rows are one statement).
    assert audit.detail == {} and abs(audit.occurred_at - stored.created_at) < dt.timedelta(seconds=5)


@needs_postgres
def test_a_delivery_racing_another_with_the_same_key_updates_its_row_instead_of_failing(
    engine: Engine,
) -> None:
    """Both miss each other's row; the unique key refuses the second insert, whose transaction must
    stay usable (a savepoint) to find the row committed first."""
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")

    def log(summary: str) -> Callable[[Session], object]:
        def logging(session: Session) -> object:
            return log_interaction(
                session,
                actor=TEST_ACTOR,
                customer_external_id=acme.external_id,
                kind="call",
                summary=summary,
                occurred_at=dt.datetime(2026, 11, 25, 9),
                idempotency_key="slack:Ev1",
            )[1]

        return logging

    second = race(engine, log("first delivery"), log("second delivery"))

    assert second.outcome() is Outcome.UPDATED
    with transaction(engine) as session:
        assert [i.summary for i in session.scalars(select(Interaction))] == ["second delivery"]
        # The refused insert's audit row (one statement with it on PostgreSQL) was refused with it.
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert [a for a in actions if a.startswith("interaction.")] == [
            "interaction.log",
            "interaction.update",
        ]
