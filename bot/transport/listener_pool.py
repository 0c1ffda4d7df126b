"""A listener thread pool that can wait until every listener it was given has finished.

Each listener acks on the request's thread and hands what comes after the ack (the handler, or
the messages still to send of a handler that answered in its ack) to the app's pool
(``bot.listeners.wiring``), so Slack is answered before that work finishes.
Something driving the app from outside (``crm-bot console``, the end-to-end tests) must know when
a request's work is done, including work that sends nothing to Slack; this pool tells it exactly,
instead of it sleeping and hoping. Production uses a plain ``ThreadPoolExecutor``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, ParamSpec, TypeVar

from bot.slack_api.replies import replies

P = ParamSpec("P")
T = TypeVar("T")


class ListenerPool(ThreadPoolExecutor):
    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="crm-listener")
        self._lock = threading.Lock()
        self._pending: list[Future[Any]] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._pending.append(future)
        return future

    def settle(self, timeout: float) -> bool:
        """Wait until everything submitted so far, and what it submitted in turn, has run, and the
        replies it handed to the reply thread (``bot.slack_api.replies``) have arrived.

        False when ``timeout`` seconds (for each round of newly submitted work) were not enough.
        """
        while True:
            with self._lock:
                self._pending = [f for f in self._pending if not f.done()]
                pending = list(self._pending)
            if not pending:
                return replies.settle(timeout)
            if wait(pending, timeout=timeout).not_done:
                return False
