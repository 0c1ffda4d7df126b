"""Replies to response URLs, posted from one asyncio thread so no handler thread waits for Slack.

A handler's last step is usually its reply. Posted on the handler's own thread, the thread waits
for Slack's answer (100-200 ms from hooks.slack.com) and for any retry, so the handler pool had to
be wide (32 threads) for replies not to hold up the next request; and on two cores 32 runnable
threads cost more in interpreter-lock handovers and context switches than the work itself
(docs/PERFORMANCE.md, issue 13 item 2). Here a handler hands its reply over and is free at once:
one thread runs an event loop with an aiohttp session (kept-alive connections, as Slack keeps
them), and any number of replies wait for Slack there at the cost of a coroutine each.

What the synchronous poster promised still holds:
- retries as slack_sdk retries (``retry_handlers``): a connection that fails, 429 after its
  Retry-After, 500 and 503 after a backoff, up to ``MAX_RETRIES`` times; a timeout while waiting
  for the answer is not retried, since Slack may have taken the reply. A kept connection the other
  side closed while idle is tried once more at once, not counted as a retry;
- replies to one response URL arrive in the order they were handed over: each waits until the one
  before it to that URL is answered (or given up), retries included;
- none is lost on a stop: ``drain`` waits for every reply handed over (``crm-bot serve`` runs it at
  exit, after the handler pools have finished, and a worker process before it exits);
- a reply that does not arrive is logged (never its URL, a credential), not raised: the action it
  reports is committed by then (``post_to_response_url``).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import random
import threading
from concurrent.futures import Future, wait
from typing import Any

import aiohttp

from bot.slack_api.web_api import MAX_RETRIES, TIMEOUT_SECONDS

log = logging.getLogger(__name__)

DRAIN_SECONDS = 60.0  # at a stop: enough for every retry of a reply handed over last
_HEADERS = {"Content-Type": "application/json;charset=utf-8", "User-Agent": "crm-bot"}


class ReplyPoster:
    """One event loop thread posting replies; started by the first reply, ended by ``drain``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: _LoopThread | None = None
        self._last: dict[str, Future[bool]] = {}  # per URL, the reply the next one waits for
        self._pending: set[Future[bool]] = set()

    def post(self, url: str, message: dict[str, Any]) -> Future[bool]:
        """Hand ``message`` over for ``url``; the future says whether it arrived (True) or not."""
        body = json.dumps(message).encode()  # now: the caller may change its dict afterwards
        with self._lock:
            if self._running is None:
                self._running = _LoopThread()
            running, previous = self._running, self._last.get(url)
            sent = asyncio.run_coroutine_threadsafe(_post_after(previous, running, url, body), running.loop)
            self._last[url] = sent
            self._pending.add(sent)
        sent.add_done_callback(lambda done: self._forget(url, done))
        return sent

    def settle(self, timeout: float) -> bool:
        """Wait until every reply handed over so far has arrived or been given up; False on timeout."""
        with self._lock:
            pending = set(self._pending)
        return not wait(pending, timeout=timeout).not_done

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait for every reply handed over so far, then end their loop's thread; a reply handed
        over meanwhile starts a new one (so it is not caught in a loop being stopped)."""
        with self._lock:
            running, self._running = self._running, None
        settled = self.settle(timeout)
        if running is not None:
            running.stop(timeout)
        return settled

    def _forget(self, url: str, done: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(done)
            if self._last.get(url) is done:
                del self._last[url]


class _LoopThread:
    """An event loop on a daemon thread of its own, with the HTTP session its replies share."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession | None = None
        self._thread = threading.Thread(target=self._run, name="crm-replies", daemon=True)
        self._thread.start()

    def session(self) -> aiohttp.ClientSession:
        """Made on the loop's thread, at the first reply (aiohttp binds it to the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=_HEADERS)
        return self._session

    def stop(self, timeout: float) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            if self._session is not None:
                self.loop.run_until_complete(self._session.close())
            self.loop.close()


async def _post_after(previous: Future[bool] | None, running: _LoopThread, url: str, body: bytes) -> bool:
    if previous is not None and not previous.done():
        await asyncio.wait([asyncio.wrap_future(previous)])
    try:
        status, answer = await _post(running.session(), url, body)
    except Exception as error:  # timeouts and dropped connections, after the retries
        log.warning("a reply to a response URL did not arrive: %s", type(error).__name__)
        return False
    if status != 200:
        # The URL itself is a credential for this conversation: never log it.
        log.warning("response URL refused a reply: HTTP %s %s", status, answer[:200])
        return False
    return True


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, str]:
    attempt, idle_closed_tried = 0, False
    while True:
        try:
            # Connecting a socket and each read are timed as http.client timed them (read at each
            # post); not the wait for a pooled connection, nor the time in total.
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=TIMEOUT_SECONDS, sock_read=TIMEOUT_SECONDS
            )
            async with session.post(url, data=body, timeout=timeout) as response:
                status, answer = response.status, await response.text("utf-8", "replace")
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ServerDisconnectedError:
            if not idle_closed_tried:  # most likely a kept connection closed while idle
                idle_closed_tried = True
                continue
            if attempt == MAX_RETRIES:
                raise
            await asyncio.sleep(backoff(attempt))
        except aiohttp.ConnectionTimeoutError:  # never connected: Slack has not seen it
            if attempt == MAX_RETRIES:
                raise
            await asyncio.sleep(backoff(attempt))
        except TimeoutError:
            raise  # sent, and no answer in time: Slack may have taken it
        except aiohttp.ClientConnectionError:
            if attempt == MAX_RETRIES:
                raise
            await asyncio.sleep(backoff(attempt))
        else:
            if status == 429 and attempt < MAX_RETRIES:
                await asyncio.sleep(_seconds(retry_after) + random.random())
            elif status in (500, 503) and attempt < MAX_RETRIES:
                await asyncio.sleep(backoff(attempt))
            else:
                return status, answer
        attempt += 1


def backoff(attempt: int) -> float:
    """slack_sdk's default: half a second, doubled at each retry, plus up to a second of jitter."""
    return float(0.5 * 2**attempt) + random.random()


def _seconds(retry_after: str | None) -> float:
    try:
        return float(retry_after or 1)
    except ValueError:
        return 1.0


replies = ReplyPoster()


def post_to_response_url(url: str, message: dict[str, Any]) -> Future[bool]:
    """Hand ``message`` to the reply thread for an interaction's response URL; do not wait for it.

    The future is False (and a line was logged) if it did not arrive. A reply that times out may
    well have reached Slack, and the action it reports is committed by then: raising would make the
    error handler apologise that nothing was saved, and a user who tries again would do it twice.
    So a failed reply is logged, not raised.
    """
    return replies.post(url, message)


# At a normal exit (``crm-bot serve`` stopped by SIGTERM or Ctrl-C) this runs after the handler
# pools' threads were joined by ``threading``'s own exit hook, so every reply is handed over by then.
atexit.register(replies.drain)
