"""What is acknowledged to Slack is kept in the store first (``crm_core.inbox``), and finished by someone.

``Inbox.accept`` runs in the ack listener, before ``ack()``: one short transaction inserts the
request (its body, the context a handler reads, Slack's retry headers, the declared handler's
name) under Slack's own id of it: the trigger id of a command, button or shortcut, the event id of
an event. A second delivery of that id (a replayed command, a retried event) is acknowledged and
ignored. When the backlog is longer than the workers clear in ``BUSY_AFTER_SECONDS``, nothing is
kept and the ack itself says the CRM is busy, so a burst never turns into answers minutes late.

``hand_over`` then runs the request after the ack, on a worker process or the listener pool; its
handler marks the row done in its own unit of work (``UserRequest.unit_of_work``). The process that
inserted a row holds it for ``LEASE``; ``InboxSweeper``, in every serving process, takes rows whose
lease ran out (a worker killed mid-request) or whose owner on this host is gone (a process killed and
started again, which needs no wait), and hands them over again. On PostgreSQL replicas sweep with
``SKIP LOCKED``; a row run twice is stored once, because the second ``mark_done`` finds it done and
its unit rolls back.

Every request answered after its ack goes through the inbox except those whose handler is declared
a reader (the App Home tab, the modals opened from a button or a shortcut). Keeping one is an insert,
and on SQLite an insert takes the one write lock: a reader would then wait behind an import in
another process before its ack, which the units of work exist to prevent
(tests/bot/listeners/test_units_of_work.py). Nothing is lost with them that a crash could have
saved either: a modal's trigger id expires 3 seconds after the click, so a modal cannot be opened
by a process finishing the request later, and the Home tab is published again when next opened.
They are held to the same backlog bound (counting it is a read), so a busy server says so to them
too. ``/crm`` is routed by what was typed (``Routed.reads_only``): its words alone tell a reader
(``find``, ``help``, ``mine``…) from a writer at the ack, without the person's time zone (only a
follow-up's date needs it), so ``/crm find`` is not kept either. Its row cost two of the store's
write transactions per search (the insert before the ack, the row marked done after the reads): on
SQLite two turns on the one write lock behind every writer of every process, on PostgreSQL two WAL
flushes, for no gain. A search lost in a crash is one the person types again; it changed nothing,
and nothing of it needs finishing. A replayed search (issue 10, item 8: "the same trigger id twice
has one effect") shows the same answer once more in the same conversation, and adds a second audit
row of the search, which is what was asked; what a replay must never do, store a change twice, only
writers can, and they are all kept. A command that does not parse is kept; if it runs a reader, its
row is marked done in a short transaction after its reads.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.request.deps import Deps, Envelope, utc_now
from bot.request.errors import run_handler
from bot.request.handlers import Declaration, Declared
from bot.request.units import Unit
from bot.request.user_request import UserRequest
from crm_core.inbox.entries import (
    AlreadyDone,
    count_backlog,
    enqueue,
    mark_done,
    owners_waiting,
    purge_done,
    take,
)
from crm_core.store import one_statement, reading, transaction

log = logging.getLogger(__name__)

# How long a process holds a request it took: far above a handler's run plus its wait in a backlog
# bounded to a few seconds, so a slow Slack call is not mistaken for a dead process.
LEASE = dt.timedelta(seconds=30)
# Past this many seconds of the workers' recent pace waiting, an ack answers "busy" instead.
BUSY_AFTER_SECONDS = 5.0
# The backlog always allowed, when the pace is not known yet (a quiet or just started server).
BACKLOG_FLOOR = 200
PACE_WINDOW = dt.timedelta(seconds=10)
COUNTS_MAX_AGE_SECONDS = 0.5
SWEEP_SECONDS = 1.0
SWEEP_BATCH = 200
# A request run this many times without being answered crashes what runs it: it is dropped, logged.
MAX_ATTEMPTS = 5
# Done rows are kept past Slack's replay window (5 minutes) and its last event retry (~5 minutes).
KEEP_DONE = dt.timedelta(minutes=15)
PURGE_SECONDS = 60.0
# The only headers a handler reads (``UserRequest.is_retry``); the rest are not kept.
KEPT_HEADERS = ("x-slack-retry-num", "x-slack-retry-reason")


class Outcome(Enum):
    KEPT = "kept"  # stored: acknowledge, then hand over
    DUPLICATE = "duplicate"  # Slack's id was seen already: acknowledge, do nothing
    BUSY = "busy"  # nothing stored: the ack says the CRM is busy


@dataclass(frozen=True)
class Accepted:
    outcome: Outcome
    request: Envelope


def request_key(body: Mapping[str, Any]) -> str:
    """Slack's unique id of a request: the same key for a replay or a retry of it."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return f"unkeyed:{uuid.uuid4().hex}"  # nothing to recognise a repeat by: each is its own


def owner_prefix() -> str:
    return f"{socket.gethostname()}:"


# This process among all replicas: host, pid, and a nonce (a restarted container reuses its pid).
PROCESS_OWNER = f"{owner_prefix()}{os.getpid()}:{secrets.token_hex(4)}"


class Backlog:
    """How many requests wait, against what the workers recently cleared, counted in the store.

    The counts are read at most every ``COUNTS_MAX_AGE_SECONDS``, by whichever ack finds them old,
    so all replicas' backlog and pace are seen; what this process kept since is added.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._waiting = 0
        self._limit = BACKLOG_FLOOR
        self._kept_since = 0

    def too_long(self) -> bool:
        if time.monotonic() - self._read_at > COUNTS_MAX_AGE_SECONDS and self._lock.acquire(blocking=False):
            try:
                self._count()
            finally:
                self._lock.release()
        return self._waiting + self._kept_since >= self._limit

    def kept(self) -> None:
        self._kept_since += 1

    def _count(self) -> None:
        with reading(self._engine) as session:
            counted = count_backlog(session, since=utc_now() - PACE_WINDOW)
        pace = counted.done_since / PACE_WINDOW.total_seconds()
        self._waiting, self._kept_since = counted.waiting, 0
        self._limit = max(BACKLOG_FLOOR, round(pace * BUSY_AFTER_SECONDS))
        self._read_at = time.monotonic()


class Inbox:
    """The ack's side of the inbox: keep a request, or say why not; and the handlers it can run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.owner = PROCESS_OWNER
        self.backlog = Backlog(engine)
        self._declarations: dict[str, Declaration] = {}

    def declare(self, declaration: Declaration) -> None:
        """Remember a handler by name, so a request kept for it can be run by another process."""
        known = self._declarations.setdefault(declaration.name, declaration)
        if known != declaration:
            raise ValueError(f"two handlers are declared as {declaration.name!r}")

    def declaration(self, name: str) -> Declaration | None:
        return self._declarations.get(name)

    def accept(self, declaration: Declaration, request: Envelope) -> Accepted:
        """Keep ``request`` before it is acknowledged; BUSY when it cannot be kept or must wait too long.

        A declared reader is not kept (see the module's docstring), only held to the same bound.
        """
        try:
            if self.backlog.too_long():
                return Accepted(Outcome.BUSY, request)
            if not is_kept(declaration, request.body):
                return Accepted(Outcome.KEPT, request)
            with one_statement(self.engine) as connection:  # no ORM session, no BEGIN, no COMMIT
                entry_id = enqueue(
                    connection,
                    key=request_key(request.body),
                    handler=declaration.name,
                    request=_stored(request),
                    owner=self.owner,
                    now=utc_now(),
                    lease=LEASE,
                )
        except Exception as error:  # the store is down or locked: nothing kept, so say so
            log.error("could not keep an acknowledged request (%s): answered busy", type(error).__name__)
            return Accepted(Outcome.BUSY, request)
        if entry_id is None:
            return Accepted(Outcome.DUPLICATE, request)
        self.backlog.kept()
        return Accepted(Outcome.KEPT, replace(request, inbox_id=entry_id))


def is_kept(declaration: Declaration, body: Mapping[str, Any]) -> bool:
    """Whether a request for ``declaration`` goes through the inbox: all but those that surely read."""
    if isinstance(declaration, Declared):
        return declaration.unit is not Unit.READS
    if declaration.reads_only is None:
        return True
    try:
        return not declaration.reads_only(body)
    except Exception as error:  # what cannot be told apart at the ack is kept, as a writer would be
        log.error("could not tell whether a request only reads (%s): it is kept", type(error).__name__)
        return True


def _stored(request: Envelope) -> dict[str, Any]:
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    return {"body": request.body, "context": request.context, "headers": headers}


def _envelope(entry_id: int, stored: Mapping[str, Any]) -> Envelope:
    return Envelope(
        body=dict(stored.get("body") or {}),
        context=dict(stored.get("context") or {}),
        headers={name: list(values) for name, values in (stored.get("headers") or {}).items()},
        inbox_id=entry_id,
    )


def hand_over(
    deps: Deps,
    client: WebClient,
    declaration: Declaration,
    request: Envelope,
    *,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Run a kept request's handler after the ack: on a worker process, else on the listener pool.

    ``context`` is Bolt's, when the request is answered in the process that received it.
    """
    if deps.workers is not None:
        try:
            deps.workers.submit(declaration, request)
            return
        except Exception as error:
            # Without workers (shut down, or new ones failing to start) it is answered here, as it is
            # when none are configured.
            log.error(
                "could not hand a request to a worker process (%s): answering it here", type(error).__name__
            )
    user_request = UserRequest(
        deps, client, request.body, context or request.context, request.headers, inbox_id=request.inbox_id
    )
    deps.executor.submit(run_handler, declaration, user_request)


class InboxSweeper:
    """Finishes what a dead process, or a killed worker, left in the inbox; forgets old done rows."""

    def __init__(self, deps: Deps, client: WebClient, inbox: Inbox) -> None:
        self._deps, self._client, self._inbox = deps, client, inbox
        self._stopped = threading.Event()
        self._purged_at = float("-inf")

    def start(self) -> None:
        threading.Thread(target=self._run, name="crm-inbox-sweeper", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.sweep()
            except Exception as error:  # the store is away for a moment: the next sweep tries again
                log.warning("could not sweep the inbox: %s", type(error).__name__)
            self._stopped.wait(SWEEP_SECONDS)

    def sweep(self) -> int:
        """Take and hand over what is left behind; how many requests were handed over."""
        now = utc_now()
        with transaction(self._inbox.engine) as session:
            dead = [owner for owner in owners_waiting(session, prefix=owner_prefix()) if _gone(owner)]
            taken = take(
                session, owner=self._inbox.owner, now=now, lease=LEASE, limit=SWEEP_BATCH, dead_owners=dead
            )
            if time.monotonic() - self._purged_at > PURGE_SECONDS:
                purge_done(session, before=now - KEEP_DONE)
                self._purged_at = time.monotonic()
        handed = 0
        for entry in taken:
            declaration = self._inbox.declaration(entry.handler)
            if declaration is None or entry.attempts > MAX_ATTEMPTS:
                self._drop(entry.id, entry.handler, entry.attempts)
                continue
            log.info("finishing an acknowledged request left waiting (attempt %d)", entry.attempts)
            hand_over(self._deps, self._client, declaration, _envelope(entry.id, entry.request))
            handed += 1
        return handed

    def _drop(self, entry_id: int, handler: str, attempts: int) -> None:
        log.error(
            "dropped inbox entry %d for %s after %d attempts (or no such handler)",
            entry_id,
            handler,
            attempts,
        )
        try:
            with self._inbox.engine.begin() as connection:
                mark_done(connection, entry_id=entry_id, now=utc_now())
        except AlreadyDone:
            pass


def _gone(owner: str) -> bool:
    """Whether the process named ``owner`` (on this host) has ended: its pid is free, or is ours now."""
    if owner == PROCESS_OWNER:
        return False
    try:
        pid = int(owner[len(owner_prefix()) :].split(":")[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True  # a name of our pid that is not ours: the process before us (a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
