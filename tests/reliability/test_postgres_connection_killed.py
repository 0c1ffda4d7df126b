"""A PostgreSQL connection killed with ``pg_terminate_backend``, mid-request and while idle in the pool.

The app runs on an engine of its own whose connections carry an application name, so only they are
killed, never another test run's. A request whose connection dies must fail cleanly (rolled back,
the user told nothing was saved) or succeed; the next request must succeed; no half-written rows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import SlackSender
from bot.transport.listener_pool import ListenerPool
from crm_core.models import AuditEvent, Interaction
from crm_core.store import make_engine, transaction
from tests.conftest import POSTGRES_ENV
from tests.factories import customer

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV, "").startswith("postgresql"),
    reason=f"needs a postgres server ({POSTGRES_ENV} set to PostgreSQL): pg_terminate_backend kills a "
    "database server connection, and SQLite has no server or connections to kill",
)

APP_NAME = "crm-reliability-app"
SETTLED = 30.0
LOGGED = ":white_check_mark: Logged: Call with *Acme Inc.*"
APOLOGY = ":warning: Sorry, something went wrong on our side and nothing was saved. Please try again."


@pytest.fixture
def engine(engine: Engine, database_url: str) -> Iterator[Engine]:
    """The app's own engine on the test database (emptied around the test by the parent fixture)."""
    own = make_engine(database_url, connect_args={"application_name": APP_NAME})
    with transaction(own) as session:
        customer(session, "Acme Inc.")
    yield own
    own.dispose()


def counts(engine: Engine) -> tuple[int, int]:
    """Interactions, and audit events of logging one: they are written in one transaction."""
    with transaction(engine) as session:
        logged = session.scalar(select(func.count()).select_from(Interaction)) or 0
        audited = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "interaction.log")
        )
    return logged, audited or 0


def log_a_call(sender: SlackSender, slack: FakeSlack, listeners: ListenerPool) -> str:
    sent = sender.command("log Acme call Agreed on the renewal")
    assert sent.answer.status == 200
    assert listeners.settle(SETTLED)
    [reply] = slack.replies(sent.response_id)
    return str(reply.params["text"])


def blocked_app_backends(killer: Connection) -> list[int]:
    """Backends of the app waiting for a lock that ``killer`` holds."""
    rows = killer.execute(
        text(
            "SELECT pid FROM pg_stat_activity "
            "WHERE application_name = :app AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ),
        {"app": APP_NAME},
    )
    return [pid for (pid,) in rows]


def test_a_connection_killed_mid_request_rolls_back_and_the_next_request_succeeds(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, engine: Engine, database_url: str
) -> None:
    killer_engine = make_engine(database_url)
    with killer_engine.connect() as killer:
        # Hold the customer row: logging an interaction checks its foreign key against that row, so
        # the app's transaction stops right there, after it has begun writing, until we let go.
        killer.execute(text("SELECT id FROM customers FOR UPDATE"))
        sent: list[str] = []
        request = threading.Thread(target=lambda: sent.append(log_a_call(sender, slack, listeners)))
        request.start()
        blocked: list[int] = []
        for _ in range(300):  # poll the server's own view for up to about 30 s
            blocked = blocked_app_backends(killer)
            if blocked:
                break
            killer.execute(text("SELECT pg_sleep(0.1)"))
        assert blocked, "the app never reached the insert"
        killed = killer.scalar(
            text("SELECT bool_and(pg_terminate_backend(pid)) FROM unnest(:pids) AS pid"), {"pids": blocked}
        )
        assert killed
        killer.rollback()
    killer_engine.dispose()
    request.join(timeout=SETTLED)
    assert sent == [APOLOGY]
    assert counts(engine) == (0, 0)
    assert log_a_call(sender, slack, listeners) == LOGGED
    assert counts(engine) == (1, 1)


def test_idle_pooled_connections_killed_as_by_a_database_restart(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, engine: Engine, database_url: str
) -> None:
    assert log_a_call(sender, slack, listeners) == LOGGED
    killer_engine = make_engine(database_url)
    with killer_engine.begin() as killer:
        killed = killer.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :app AND state = 'idle'"),
            {"app": APP_NAME},
        ).all()
        killer.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) AS pid"), {"pids": killed})
    assert killed
    with killer_engine.connect() as killer:  # ended, as a restarted server's are before anyone asks
        for _ in range(100):
            alive = killer.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": killed}
            )
            if not alive:
                break
            killer.execute(text("SELECT pg_sleep(0.1)"))
    killer_engine.dispose()
    # The pool tests each connection before lending it (make_engine's ``_checked_out``: a
    # connection the server ended has its notice or its end to read), so the first request after the
    # restart already succeeds.
    assert log_a_call(sender, slack, listeners) == LOGGED
    assert counts(engine) == (2, 2)
