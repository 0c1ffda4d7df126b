"""The work after each ack in worker processes, so the process that acknowledges Slack never waits for it.

Python runs one thread of a process at a time. With searches, profile rendering and Web API calls
running in lazy listener threads, an ack (which crosses several threads in waitress and Bolt) waits
for the interpreter lock behind them, and its p99 grows with the load (docs/PERFORMANCE.md, "/crm
find"). With ``crm-bot serve --workers N`` the serving process only acknowledges and hands each
request to one of N worker processes (from the ack listener, after the ack: ``bot.listeners.wiring``),
which run the same handlers at a lower CPU priority, so the operating system schedules an ack ahead
of them.

What crosses the process boundary is plain data (``Envelope``); a worker builds its own store
engine and Web API client from the same settings. Correctness never depended on the process a
declaration runs in: retries and duplicates are caught in the store, as they are across replicas.

Each worker reads its requests from a pipe of its own, written by the ack listener's thread itself:
one pickling and one ``write`` per request, and nothing comes back. ``concurrent.futures``'
process pool cost the serving process about 15% of its CPU per request (its queue-management and
feeder threads, a result pickled back, a future and its callbacks: several thread switches per
request in the process whose acks must not wait for the interpreter; docs/PERFORMANCE.md).
What a worker had not started when it died is found by the inbox as any other unfinished request
(``bot.transport.inbox``: its lease runs out and the sweeper hands it over again); a request not
kept there (a search, help) is one the person sends again, as one running in it would be.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import termios
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from slack_sdk import WebClient

from bot.parsing.when import warm_up
from bot.request.deps import Deps, Envelope, utc_now
from bot.request.errors import run_handler
from bot.request.handlers import Declaration
from bot.request.people import People
from bot.request.user_request import UserRequest
from bot.slack_api.replies import replies
from bot.slack_api.web_api import make_web_client
from bot.transport.collector import freeze_start_up
from crm_core.config import Settings
from crm_core.identity.phones import use_phone_region
from crm_core.store import make_engine

log = logging.getLogger(__name__)

# Above the serving process (niceness 0): Linux gives a nice-10 process about a tenth of the CPU
# share of a nice-0 one when both want it, and wakes the server first.
WORKER_NICENESS = 10
# Handlers run on threads of the worker: one declaration at a time per process would let a slow Web
# API call or commit hold up the rest. Replies wait for Slack on the reply thread
# (``bot.slack_api.replies``), not here, so as in the server's own pool (``bot.app.LISTENER_THREADS``)
# a few threads keep a core and the store busy; more only take turns at the interpreter lock, in no
# order, and the unlucky request (or the reply thread) waits several turns: with 16 threads the
# slowest `/crm find` answers were 10-30% slower than with 4 (issue 13 item 2, docs/PERFORMANCE.md).
# Requests beyond the threads wait in the pool's queue, first come first served.
WORKER_THREADS = 4
BOOT_TIMEOUT_SECONDS = 120.0
# A worker takes each request off its pipe as it comes (onto its threads' queue), so the pipe holds
# only what arrives while the worker waits for the CPU; a larger one than Linux's 64 KiB keeps the
# ack listener from ever waiting on a worker that a burst left behind.
PIPE_BYTES = 1 << 20
WATCH_SECONDS = 1.0
# Each message on a pipe starts with this, so that what a dead worker left can be read from the
# first whole message on, even if it died halfway through reading one (``_unread``).
MARK = b"\x00crm-request\x00\x8f\x1d\xa2"
_HEADER = 4  # the length ``Connection.send_bytes`` writes before the bytes


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    requests: Connection  # the server's end: it writes, the worker reads
    unread: Connection  # the server's copy of the worker's end: what a dead worker left, to send again
    ready: Connection | None  # the worker says it has started (read by ``start``)
    capacity: int  # the pipe's size in bytes, as Linux granted it
    lock: threading.Lock = field(default_factory=threading.Lock)  # one message at a time on the pipe
    gone: bool = False  # set under ``lock`` once it ended: nothing more is written to it

    def has_room(self, size: int) -> bool:
        """Whether a message of ``size`` bytes fits in the pipe now, so that writing it cannot wait.

        Only the server writes (under ``lock``) and the worker only takes away, so room seen here is
        still there when the write comes.
        """
        queued = int.from_bytes(fcntl.ioctl(self.unread.fileno(), termios.FIONREAD, bytes(4)), sys.byteorder)
        return queued + _HEADER + size <= self.capacity


class WorkerProcesses:
    """N worker processes, each fed by a pipe of its own; one that ends is replaced alone.

    A thread of the server watches them: when one ends (killed by the OOM killer, say, or told to
    stop) a new one takes its place, and what the old one had not read from its pipe goes to the
    others. The others, and the handlers they are running, are left alone.
    """

    def __init__(self, settings: Settings, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker process is needed")
        self._settings = settings
        self._count = count
        self._lock = threading.Lock()
        self._workers: list[_Worker | None] = [None] * count
        self._next = 0
        self._stopped = False
        self._watching = False
        # The server's exit stops the daemonic workers (multiprocessing's exit hook, which runs after
        # this one): they are not to be replaced then.
        atexit.register(self._stop_replacing)

    @property
    def count(self) -> int:
        return self._count

    def _spawn(self) -> _Worker:
        # spawn, not fork: the server has threads (waitress, Bolt, the scheduler) that fork would
        # copy mid-flight, locks included. Daemonic: the server's exit stops them (SIGTERM).
        context = multiprocessing.get_context("spawn")
        theirs, ours = context.Pipe(duplex=False)
        ready, says_ready = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve, args=(self._settings, theirs, says_ready), name="crm-worker", daemon=True
        )
        process.start()
        says_ready.close()
        with contextlib.suppress(OSError):  # the default size still works, only sooner full
            fcntl.fcntl(ours.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        if not self._watching:
            self._watching = True
            threading.Thread(target=self._watch, name="crm-worker-watch", daemon=True).start()
        return _Worker(process, ours, theirs, ready, fcntl.fcntl(ours.fileno(), fcntl.F_GETPIPE_SZ))

    def start(self) -> None:
        """Boot every worker now, so the first requests of the day do not wait for imports."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the worker processes were shut down")
            booting = [self._worker(slot) for slot in range(self._count)]
        for worker in booting:
            if not _started(worker):
                raise RuntimeError("the worker processes did not start: see the log above")

    def submit(self, declaration: Declaration, request: Envelope) -> None:
        """Send the request to the next worker; RuntimeError when none can take it (shut down)."""
        self._send(MARK + pickle.dumps((declaration, request), protocol=pickle.HIGHEST_PROTOCOL))

    def _send(self, message: bytes) -> None:
        behind = 0
        while behind < self._count:
            with self._lock:
                if self._stopped:
                    raise RuntimeError("the worker processes were shut down")
                slot = self._next
                self._next = (slot + 1) % self._count
                worker = self._worker(slot)
            with worker.lock:
                if worker.gone:  # the watcher replaced it meanwhile: the next one's turn
                    continue
                if worker.has_room(len(message)):
                    worker.requests.send_bytes(message)
                    return
                behind += 1
        # Writing would wait for a worker that reads nothing (stopped, or starved of the CPU), and the
        # ack listener's thread must not: the server answers this one itself (``inbox.hand_over``), as
        # it does a message larger than a whole pipe.
        raise RuntimeError("every worker process is behind")

    def _worker(self, slot: int) -> _Worker:
        """The worker in ``slot``, started if there is none (under ``_lock``)."""
        worker = self._workers[slot]
        if worker is None:
            worker = self._workers[slot] = self._spawn()
        return worker

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                running = {w.process.sentinel: (slot, w) for slot, w in enumerate(self._workers) if w}
            for sentinel in wait(list(running), timeout=WATCH_SECONDS):
                slot, worker = running[sentinel]  # type: ignore[index]
                self._replace(slot, worker)

    def _replace(self, slot: int, ended: _Worker) -> None:
        """Start a worker in the place of one that ended, and send on what it had not read."""
        with self._lock:
            if self._stopped or self._workers[slot] is not ended:
                return
            log.error("a worker process ended (exit code %s): starting a new one", ended.process.exitcode)
            self._workers[slot] = None
            self._worker(slot)
        with ended.lock:  # no write to it is under way, and none will start
            ended.gone = True
            ended.requests.close()  # so that reading what is left ends at its end, never waits
        left = _unread(ended.unread)
        ended.unread.close()
        if ended.ready is not None:
            ended.ready.close()
        ended.process.join(timeout=5)  # it has ended (its sentinel said so): reaped at once
        try:
            for message in left:
                self._send(message)
        except RuntimeError:  # shut down meanwhile: what was left goes no further, as on shutdown
            log.error("requests an ended worker left were not all sent on: shutting down")

    def _stop_replacing(self) -> None:
        with self._lock:
            self._stopped = True

    def shutdown(self) -> None:
        """Take no more requests; the workers finish those they have, then end."""
        with self._lock:
            self._stopped = True
            workers, self._workers = [w for w in self._workers if w is not None], [None] * self._count
        for worker in workers:
            with worker.lock:
                worker.gone = True
                worker.requests.close()  # the worker reads to the end of its pipe, then stops
        for worker in workers:
            worker.process.join()
            worker.unread.close()


def _unread(pipe: Connection) -> list[bytes]:
    """The whole messages left in the pipe of a worker that ended (its write end closed).

    A worker killed halfway through reading one (its length read, say) leaves the rest of it at the
    front of the pipe: that one is lost with it (as are those it was running); the messages after it
    are found by their mark, each checked to be followed by the next, to the end.
    """
    chunks = []
    try:
        os.set_blocking(pipe.fileno(), False)  # its writers are gone: this never waits, to be sure
        while chunk := os.read(pipe.fileno(), PIPE_BYTES):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    except OSError as error:
        log.error("what an ended worker left could not be read: %s", type(error).__name__)
    left = b"".join(chunks)
    start = left.find(MARK)
    while start >= 0:
        messages = _framed(left, start - _HEADER)
        if messages is not None:
            if start > _HEADER:
                log.error("a request an ended worker was reading is lost with it")
            return messages
        start = left.find(MARK, start + 1)
    if left:
        log.error("what an ended worker left in its pipe could not be read: lost")
    return []


def _framed(left: bytes, at: int) -> list[bytes] | None:
    """The messages of ``Connection.send_bytes`` (a 4-byte length, then the bytes) from ``at`` to
    the end of ``left``, each starting with ``MARK``; None unless they end exactly there."""
    if at < 0:
        return None
    messages = []
    while at < len(left):
        size = int.from_bytes(left[at : at + _HEADER], "big", signed=True)
        end = at + _HEADER + size
        if size < len(MARK) or end > len(left) or not left.startswith(MARK, at + _HEADER):
            return None
        messages.append(left[at + _HEADER : end])
        at = end
    return messages


def _started(worker: _Worker) -> bool:
    ready = worker.ready
    if ready is None:
        return True
    try:
        if not wait([ready, worker.process.sentinel], timeout=BOOT_TIMEOUT_SECONDS) or not ready.poll():
            return False
        return ready.recv_bytes() == b"ready"
    except (EOFError, OSError):  # it ended before saying so
        return False
    finally:
        ready.close()
        worker.ready = None


_deps: Deps | None = None
_client: WebClient | None = None


def _serve(settings: Settings, requests: Connection, ready: Connection) -> None:
    """A worker's life: start, then hand each request read from the pipe to its threads."""
    _start_worker(settings)
    freeze_start_up()
    with contextlib.suppress(OSError):  # a replacement's start is not waited for
        ready.send_bytes(b"ready")
    ready.close()
    while True:
        try:
            message = requests.recv_bytes()
        except (EOFError, OSError):  # the server closed the pipe (shutting down), or is gone
            break
        try:
            _handle(*pickle.loads(memoryview(message)[len(MARK) :]))
        except Exception as error:  # never expected: the server sends whole messages only
            log.error("a worker could not read a request: %s", type(error).__name__)
    _finish_and_exit(0, None)


def _start_worker(settings: Settings) -> None:
    """In each worker: lower its priority, then build what handlers need, once."""
    global _deps, _client
    os.nice(WORKER_NICENESS)
    # Ctrl-C reaches the whole process group: the server decides when its workers stop. SIGTERM (the
    # server exiting, or systemd stopping the whole service) lets the handlers already running
    # finish, so a saved change still gets its reply; what is still in the pipe the server sends to
    # the worker that replaces this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _finish_and_exit)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    use_phone_region(settings.phone_region)  # a spawned process starts with the default
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    _client = make_web_client(settings)
    _deps = Deps(
        engine=engine,
        settings=settings,
        people=People(engine=engine, default_timezone=settings.timezone),
        executor=ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="crm-worker"),
        clock=utc_now,
    )
    warm_up()


def _finish_and_exit(_signal: int, _frame: object) -> None:
    if _deps is not None:
        _deps.executor.shutdown(wait=True)
    replies.drain()  # os._exit runs no exit hooks: the handlers' last replies go out first
    os._exit(0)


def _handle(declaration: Declaration, request: Envelope) -> None:
    assert _deps is not None and _client is not None, "runs only in a worker started by WorkerProcesses"
    user_request = UserRequest(
        _deps, _client, request.body, request.context, request.headers, inbox_id=request.inbox_id
    )
    _deps.executor.submit(run_handler, declaration, user_request)
