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
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from slack_sdk import WebClient

from bot.parsing.when import warm_up
from bot.request.deps import Deps, Envelope, utc_now
from bot.request.errors import run_handler
from bot.request.handlers import Declaration
from bot.request.people import People
from bot.request.user_request import UserRequest
from bot.slack_api.replies import replies
from bot.slack_api.web_api import make_web_client
from crm_core.config import Settings
from crm_core.identity.phones import use_phone_region
from crm_core.store import make_engine

log = logging.getLogger(__name__)

# Above the serving process (niceness 0): Linux gives a nice-10 process about a tenth of the CPU
# share of a nice-0 one when both want it, and wakes the server first.
WORKER_NICENESS = 10
# Handlers run on threads of the worker: most of a declaration's time is spent waiting for Slack or the
# store, and one declaration at a time per process would let a slow Web API call hold up the rest.
WORKER_THREADS = 16
BOOT_TIMEOUT_SECONDS = 120.0
PARENT_CHECK_SECONDS = 1.0


class WorkerProcesses:
    """A pool of worker processes, replaced as a whole when one of them dies.

    ``concurrent.futures`` marks a pool broken when a worker is killed (by the OOM killer, say),
    stops the other workers and refuses all later work; a server must go on answering, so the next
    request gets a fresh pool. The handlers that were running in the killed worker are lost; those
    of the other workers finish first (``_finish_and_exit``).
    """

    def __init__(self, settings: Settings, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker process is needed")
        self._settings = settings
        self._count = count
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    @property
    def count(self) -> int:
        return self._count

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (waitress, Bolt, the scheduler) that fork would
        # copy mid-flight, locks included.
        return ProcessPoolExecutor(
            max_workers=self._count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._settings,),
        )

    def _boot(self) -> list[Future[int]]:
        # The pool starts a process per task while none is idle: one task each starts them all.
        return [self._pool.submit(os.getpid) for _ in range(self._count)]

    def start(self) -> None:
        """Boot every worker now, so the first requests of the day do not wait for imports."""
        with self._lock:
            booted = self._boot()
        done, not_done = wait(booted, timeout=BOOT_TIMEOUT_SECONDS)
        if not_done or any(future.exception() for future in done):
            raise RuntimeError("the worker processes did not start: see the log above")

    def submit(self, declaration: Declaration, request: Envelope, *, again: bool = False) -> Future[None]:
        with self._lock:
            try:
                future = self._pool.submit(_handle, declaration, request)
            except BrokenProcessPool:
                log.error("a worker process died: starting new ones")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                self._boot()
                future = self._pool.submit(_handle, declaration, request)
        future.add_done_callback(lambda done: self._after(done, declaration, request, again))
        return future

    def _after(self, done: Future[None], declaration: Declaration, request: Envelope, again: bool) -> None:
        """Hand a request caught in a breaking pool to the next one, once.

        ``_handle`` only passes a request to a worker's threads, so a request whose hand-over failed
        with the pool had not started: sending it again cannot run it twice. Called on the pool's
        own thread, which must not wait on the pool: the new submission goes from a thread of its own.
        """
        error = None if done.cancelled() else done.exception()
        if error is None:
            return
        if isinstance(error, BrokenProcessPool) and not again:
            threading.Thread(target=self.submit, args=(declaration, request), kwargs={"again": True}).start()
            return
        # Handlers report their own errors to the user; what arrives here never reached a worker.
        log.error("a request was lost on its way to a worker process: %s", type(error).__name__)

    def shutdown(self) -> None:
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=True)


_deps: Deps | None = None
_client: WebClient | None = None


def _start_worker(settings: Settings) -> None:
    """In each worker: lower its priority, then build what handlers need, once."""
    global _deps, _client
    os.nice(WORKER_NICENESS)
    # Ctrl-C reaches the whole process group: the server decides when its workers stop. SIGTERM (from
    # the pool when another worker died, or systemd stopping the whole service) lets the handlers
    # already running finish, so a saved change still gets its reply.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _finish_and_exit)
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="crm-parent-watch", daemon=True).start()
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


def _exit_with(parent: int) -> None:
    """End this worker when the server that started it is gone (stopped, or killed outright).

    Nothing else would: a spawned worker waits on its task queue forever, an orphan holding
    database connections.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _handle(declaration: Declaration, request: Envelope) -> None:
    assert _deps is not None and _client is not None, "runs only in a worker started by WorkerProcesses"
    user_request = UserRequest(
        _deps, _client, request.body, request.context, request.headers, inbox_id=request.inbox_id
    )
    _deps.executor.submit(run_handler, declaration, user_request)
