"""Readers take turns at their unit of work, first come first served, and never wait for long."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.request import turns
from bot.request.turns import Turns
from crm_core.store import transaction
from tests.bot.conftest import SALES
from tests.bot.harness import SlackSender
from tests.factories import customer


def _queued(line: Turns, count: int) -> bool:
    with line._lock:
        return len(line._waiting) == count


def _wait_until(condition: Callable[[], bool]) -> None:
    settled = threading.Event()
    for _ in range(1000):
        if condition():
            return
        settled.wait(0.01)
    raise AssertionError("the waiting threads never queued")


def test_the_turn_goes_to_the_threads_in_the_order_they_asked() -> None:
    line = Turns(patience=30)
    order: list[str] = []

    def reader(name: str) -> None:
        with line.turn():
            order.append(name)

    with line.turn():
        threads = []
        for name in ("first", "second", "third"):
            thread = threading.Thread(target=reader, args=(name,))
            thread.start()
            threads.append(thread)
            _wait_until(lambda: _queued(line, len(threads)))  # each queued before the next asks
        order.append("holder")
    for thread in threads:
        thread.join(10)

    assert order == ["holder", "first", "second", "third"]


def test_a_waiter_goes_ahead_after_its_patience_without_taking_the_turn() -> None:
    line = Turns(patience=0.05)
    went_ahead = threading.Event()

    def impatient() -> None:
        with line.turn():
            went_ahead.set()

    with line.turn():
        thread = threading.Thread(target=impatient)
        thread.start()
        thread.join(10)
        assert went_ahead.is_set()  # while the holder still has its turn
        assert _queued(line, 0)
        # It ended without handing on a turn it never had: the holder's turn is still taken.
        taken = threading.Event()
        other = threading.Thread(target=lambda: line._take() and taken.set())
        other.start()
        other.join(10)
        assert not taken.is_set()
    # Given up, the turn is free again.
    with line.turn():
        assert line._taken


def test_a_find_waits_for_its_turn_and_a_log_does_not(
    sender: SlackSender, slack: FakeSlack, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.", email="buyer@acme.example")
    monkeypatch.setattr(turns.READERS, "patience", 30.0)

    with turns.READERS.turn():  # another reader's unit of work, still running
        found = sender.command("find acme", user=SALES)
        logged = sender.command("log buyer@acme.example call asked for a quote", user=SALES)
        [logged_reply] = slack.wait_for_reply(logged.response_id)  # a writer goes ahead
        with pytest.raises(AssertionError):  # the reader waits for its turn
            slack.wait_for_reply(found.response_id, timeout=1.0)
    [found_reply] = slack.wait_for_reply(found.response_id)

    assert "Acme Inc." in found_reply.text
    assert "Acme Inc." in logged_reply.text
