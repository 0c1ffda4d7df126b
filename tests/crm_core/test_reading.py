"""``reading``: reads that do not hold the store's write lock, with their audit rows written after."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.customers.service import get_customer
from crm_core.errors import Forbidden
from crm_core.models import AuditEvent, Customer
from crm_core.store import make_engine, reading, transaction
from tests.factories import TEST_ACTOR, customer

SALES_REP = Actor(user_id="U_REP", surface="slack", role="sales")
# A Slack request's reads run with ``one_transaction=False``; the morning job's with the default.
BOTH_KINDS = pytest.mark.parametrize("one_transaction", [True, False], ids=["one-transaction", "request"])


def audit_actions(engine: Engine) -> list[tuple[str, bool]]:
    with transaction(engine) as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.allowed).order_by(AuditEvent.id))
        return [(action, allowed) for action, allowed in rows]


@BOTH_KINDS
def test_a_read_is_audited_after_its_reads(engine: Engine, one_transaction: bool) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
    before = len(audit_actions(engine))
    with reading(engine, one_transaction=one_transaction) as session:
        seen = get_customer(session, actor=TEST_ACTOR, external_id=acme.external_id)
        # Not yet written: the row waits for the reads to end.
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert seen.name == "Acme Inc."
    assert audit_actions(engine)[before:] == [("customer.read", True)]


@BOTH_KINDS
def test_a_failed_read_writes_nothing(engine: Engine, one_transaction: bool) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
    before = len(audit_actions(engine))
    with pytest.raises(LookupError), reading(engine, one_transaction=one_transaction) as session:
        get_customer(session, actor=TEST_ACTOR, external_id=acme.external_id)
        raise LookupError("the rendering failed")
    assert len(audit_actions(engine)) == before


@BOTH_KINDS
def test_a_refusal_is_audited_like_in_a_transaction(engine: Engine, one_transaction: bool) -> None:
    with pytest.raises(Forbidden), reading(engine, one_transaction=one_transaction):
        authorize(SALES_REP, Permission.READ_AUDIT)
    assert audit_actions(engine)[-1][1] is False


@BOTH_KINDS
def test_anything_but_audit_rows_is_refused_and_not_written(engine: Engine, one_transaction: bool) -> None:
    refused = pytest.raises(RuntimeError, match="only audit rows")
    with refused, reading(engine, one_transaction=one_transaction) as session:
        session.add(Customer(external_id="C-NEW", name="Sneaky", name_key="sneaky"))
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_on_sqlite_a_writer_need_not_wait_for_an_open_read(engine: Engine, database_url: str) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock held from BEGIN is SQLite's; postgres locks rows, not the store")
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    other = make_engine(database_url)
    try:
        with reading(engine) as session:
            assert session.scalar(select(func.count()).select_from(Customer)) == 1
            # Had the read begun IMMEDIATE, this writer would wait out the busy timeout and fail.
            with transaction(other) as writer:
                customer(writer, "Initech")
    finally:
        other.dispose()
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 2


def test_a_requests_reads_on_postgres_run_outside_a_transaction(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's deferred BEGIN costs no round trip: a request's reads keep their snapshot")
    # Inside a transaction, a later statement's start is after the transaction's; in autocommit each
    # statement is a transaction of its own, so the two are the same moment.
    same_moment = text("SELECT pg_sleep(0.01), statement_timestamp() = transaction_timestamp()")
    with reading(engine) as session:
        session.execute(text("SELECT 1"))
        assert session.execute(same_moment).one()[1] is False
    with reading(engine, one_transaction=False) as session:
        session.execute(text("SELECT 1"))
        assert session.execute(same_moment).one()[1] is True
    with transaction(engine) as session:
        session.execute(text("SELECT 1"))
        assert session.execute(same_moment).one()[1] is False
