"""Two real PostgreSQL transactions in a set order, for the tests of row locks.

The test opens the first transaction itself and does its work without committing; a ``Rival`` then
runs the second unit of work in a thread, on a connection of its own. ``blocked`` asks the server
whether the rival waits for a lock the first holds (``pg_blocking_pids``), so the test commits the
first at a known point: while the rival waits, or after it finished without waiting (the old code).
No sleeps decide the order.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from crm_core.store import transaction
from tests.conftest import POSTGRES_ENV

SETTLED = 30.0

needs_postgres = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV, "").startswith("postgresql"),
    reason=f"needs PostgreSQL ({POSTGRES_ENV}): these races are between two PostgreSQL transactions; "
    "on SQLite the write lock taken at BEGIN IMMEDIATE runs writers one at a time",
)


class Rival(threading.Thread):
    """``work`` in a unit of work of its own (``transaction``), with its result or error kept."""

    def __init__(self, engine: Engine, work: Callable[[Session], Any]) -> None:
        super().__init__(daemon=True)
        self._engine, self._work = engine, work
        self._pid_known = threading.Event()
        self.pid = 0
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction(self._engine) as session:
                self.pid = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
                self._pid_known.set()
                self.result = self._work(session)
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc
        finally:
            self._pid_known.set()

    def outcome(self) -> Any:
        """The result, once the rival has finished; its error is raised here."""
        self.join(SETTLED)
        assert not self.is_alive(), "the second transaction never finished"
        if self.error is not None:
            raise self.error
        return self.result


def blocked(rival: Rival, watcher: Engine) -> bool:
    """Start ``rival`` and return True once it waits for a lock, False if it finished without waiting."""
    rival.start()
    assert rival._pid_known.wait(SETTLED)
    deadline = time.monotonic() + SETTLED
    with watcher.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        while rival.is_alive():
            waiting = connection.scalar(
                text("SELECT cardinality(pg_blocking_pids(:pid)) > 0"), {"pid": rival.pid}
            )
            if waiting:
                return True
            assert time.monotonic() < deadline, "the second transaction neither waited nor finished"
            rival.join(0.01)
    return False


def race(engine: Engine, first: Callable[[Session], Any], second: Callable[[Session], Any]) -> Rival:
    """Run ``first`` without committing, start ``second`` beside it, commit ``first`` once ``second``
    waits for it (or has finished); returns the second, whose ``outcome`` the test then asserts."""
    with transaction(engine) as session:
        first(session)
        rival = Rival(engine, second)
        blocked(rival, engine)
    return rival
