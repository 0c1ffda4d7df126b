"""With ``--workers``, the ack listener hands each request over; when it cannot, the server answers."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.console.fake_web_api import FakeSlack
from bot.transport.listener_pool import ListenerPool
from bot.transport.worker_processes import MARK, WorkerProcesses, _unread
from crm_core.config import Settings
from tests.bot.conftest import SIGNING_SECRET, Clock, serving
from tests.bot.harness import SlackSender


@pytest.fixture
def answered_here(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    slack: FakeSlack,
    listeners: ListenerPool,
    caplog: pytest.LogCaptureFixture,
) -> Callable[[WorkerProcesses], None]:
    """Sends ``/crm help`` to a server with the given workers, which must ack it as usual and answer
    it itself, saying why, when it cannot hand it over."""

    def send(workers: WorkerProcesses) -> None:
        app = create_app(settings, engine, clock=clock, listener_executor=listeners, workers=workers)
        with caplog.at_level(logging.ERROR, logger="bot.listeners.wiring"), serving(app, slack) as server:
            sent = SlackSender(server.url, SIGNING_SECRET, slack).command("help")
            # Acked as usual (Bolt takes back an ack whose listener raises after it: a timeout in Slack).
            assert (sent.answer.status, sent.answer.body) == (200, "")
            [reply] = slack.wait_for_reply(sent.response_id)
            assert "How to use /crm" in reply.text
        assert "could not hand a request to a worker process (RuntimeError): answering it here" in caplog.text

    return send


def test_a_request_no_worker_can_take_is_acked_and_answered_by_the_server(
    settings: Settings, answered_here: Callable[[WorkerProcesses], None]
) -> None:
    workers = WorkerProcesses(settings, 1)
    workers.shutdown()  # as while the server stops: the pool takes no more work
    answered_here(workers)


def test_what_a_dead_worker_left_in_its_pipe_is_read_from_the_first_whole_request() -> None:
    """A worker killed halfway through reading a request (its length read, not its bytes) leaves
    the rest at the front of its pipe: the requests after it are still found, whole."""
    theirs, ours = multiprocessing.Pipe(duplex=False)
    sent = [MARK + bytes([n]) * (100 + n) for n in range(3)]
    for message in sent:
        ours.send_bytes(message)
    assert len(os.read(theirs.fileno(), 4)) == 4  # as the worker's recv_bytes begins
    ours.close()
    assert _unread(theirs) == sent[1:]
    theirs.close()

    whole, writer = multiprocessing.Pipe(duplex=False)
    for message in sent:
        writer.send_bytes(message)
    writer.close()
    assert _unread(whole) == sent
    whole.close()


def test_a_request_is_answered_by_the_server_when_the_worker_reads_nothing_and_its_pipe_is_full(
    settings: Settings, answered_here: Callable[[WorkerProcesses], None]
) -> None:
    """A worker that is stopped (or starved of the CPU) fills its pipe; writing to it would hold the
    ack listener's thread until the worker reads again, and the ack with it."""
    workers = WorkerProcesses(settings, 1)
    workers.start()
    [worker] = workers._workers
    assert worker is not None and worker.process.pid is not None
    pid = worker.process.pid
    os.kill(pid, signal.SIGSTOP)
    # Should a write wait for the worker after all, it goes on reading in a while: a failure, not a hang.
    wakes = threading.Timer(20.0, os.kill, (pid, signal.SIGCONT))
    wakes.start()
    try:
        # Filled through a copy of the server's end, which shares its blocking mode: set back after.
        full = os.dup(worker.requests.fileno())
        os.set_blocking(full, False)
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(full, bytes(4096))
        os.set_blocking(full, True)
        os.close(full)
        answered_here(workers)
    finally:
        wakes.cancel()
        workers._stop_replacing()  # what the stopped worker holds is filler: no replacement reads it
        os.kill(pid, signal.SIGKILL)
        worker.process.join(timeout=10)
        workers.shutdown()
