"""Units of work declared by the wiring: reads never wait for SQLite's write lock.

Another process holds SQLite's one write lock (as an import or a busy replica would) while a person
types in the customer picker and opens the App Home tab. Both are readers, so they answer from a
snapshot; when they ran in write transactions they queued behind the lock for the whole busy timeout
and then failed. A writer's reply is held until its commit, so nobody is told "Logged" about a write
the database then refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.store import transaction
from tests.bot.conftest import SALES
from tests.bot.harness import SlackSender, button, opened_view
from tests.conftest import POSTGRES_ENV
from tests.factories import customer

pytestmark = pytest.mark.skipif(
    bool(os.environ.get(POSTGRES_ENV)),
    reason="about SQLite's single write lock; on PostgreSQL readers never wait for writers",
)

HOLD_THE_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
connection.rollback()
"""


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.")


@contextmanager
def write_lock_held_by_another_process(engine: Engine) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(engine.url.database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_the_customer_picker_answers_while_another_process_writes(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    sent = sender.command("find acme", user=SALES)
    [reply] = slack.wait_for_reply(sent.response_id)
    sender.click(button(reply, ActionId.LOG_INTERACTION), user=SALES)
    view = opened_view(slack)
    with write_lock_held_by_another_process(engine):
        answer = sender.suggest(view, "acme")
    assert answer.status == 200
    assert [option["value"] for option in answer.json()["options"]] == [acme.external_id]


def test_app_home_is_published_while_another_process_writes(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, engine: Engine, acme: CustomerView
) -> None:
    with write_lock_held_by_another_process(engine):
        assert sender.open_home(user=SALES).status == 200
        assert listeners.settle(30)
        view = slack.home_view(SALES)
    assert view is not None and view["type"] == "home"
