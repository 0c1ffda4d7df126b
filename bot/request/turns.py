"""Readers' units of work one at a time in each process, in the order they asked.

A `/crm find` is a few milliseconds of Python, and with 16 people searching at once the handler
threads took turns at the interpreter lock in no order: every search was slowed by all the others
at once, and the slowest answers were about 1.7 times the median. Taking turns at the unit of work
instead, first come first served, each search runs nearly alone: the median stays (the same work
is done by the same interpreter) and the tail comes down (docs/PERFORMANCE.md, issue 13 item 2).

A turn covers a reader's unit of work only (``bot.request.user_request``): its reads and the Python
around them. Writers keep running beside it, since one may wait for SQLite's write lock or a row
lock, and so do Slack calls, which come before a unit (looking a person up) or after it (what a
handler says is sent once its unit has ended). A reader that holds its turn long (a slow read)
keeps the others waiting at most ``PATIENCE_SECONDS``: after that they go ahead beside it, as
every reader did before.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

PATIENCE_SECONDS = 0.1


class Turns:
    """A first-come-first-served turn, waited for at most ``patience`` seconds.

    ``threading.Lock`` hands itself to whichever waiting thread the interpreter runs next; here
    each waiter queues its own ticket and the one ending its turn hands it to the oldest.
    """

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._lock = threading.Lock()
        self._taken = False
        self._waiting: deque[threading.Lock] = deque()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the turn for the block, or run it without one after waiting ``patience``."""
        held = self._take()
        try:
            yield
        finally:
            if held:
                self._hand_on()

    def _take(self) -> bool:
        with self._lock:
            if not self._taken:
                self._taken = True
                return True
            ticket = threading.Lock()
            ticket.acquire()
            self._waiting.append(ticket)
        if ticket.acquire(timeout=self.patience):
            return True  # handed on to this thread
        with self._lock:
            if ticket in self._waiting:  # still queued: goes ahead without the turn
                self._waiting.remove(ticket)
                return False
        return True  # handed on while the wait was ending: this thread holds it

    def _hand_on(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the turn stays taken, by the oldest waiter
            else:
                self._taken = False


# Every reader's unit of work in this process takes its turn here.
READERS = Turns()
