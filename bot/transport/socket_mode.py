"""Socket Mode for ``crm-bot run``: Bolt's aiohttp adapter, plus what it lacks for Slack's timing.

Slack wants every envelope acked within 3 seconds, also in the seconds around a reconnect. Bolt's
four Socket Mode adapters were measured against ``tests.fakes.socket_mode_server``'s faults
(docs/PERFORMANCE.md, "Socket Mode"). The default one (slack_sdk's built-in client) acks an envelope
sent right after a ``refresh_requested`` or ``warning`` disconnect after 3.0 s, needs ~10 s after an
orderly close and about a minute, spinning a core, after a connection dropped without a close frame;
websocket-client's never came back from a refresh; websockets' needed ~9.5 s after a close or a drop.
The aiohttp adapter holds for refreshes and orderly closes (acked in milliseconds) and is the one
used here. What it still lacks is worked around in this module:

* A connection dropped without a close frame (a proxy or load balancer going away) is noticed only
  by its monitor, which looks every ``ping_interval`` (10 s): ``_reconnect_when_dropped`` looks four
  times a second and reconnects at once, backing off while Slack cannot be reached.
* Bolt's adapter runs a synchronous ``App`` on the event loop itself, so one slow ack would hold
  every other envelope (and the loop's pings) behind it: ``_Handler`` runs each in a thread of its
  own pool, as the built-in client does, and the loop only moves bytes.
* On a ``disconnect`` message the client closes the old connection before it opens the new one,
  and aiohttp throws away every frame that arrives during a closing handshake: an envelope Slack
  sent just before it read the close frame was never acked (a slash command then fails for the
  user; the drills caught it as a rare failure on a busy machine). ``_HandoverClient`` opens the
  new connection first and reads the old one until Slack has gone quiet on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMessage, WSMsgType
from slack_bolt import App
from slack_bolt.adapter.socket_mode.async_base_handler import AsyncBaseSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

ACK_THREADS = 10  # envelopes handled at once, as many as slack_sdk's built-in client runs
DROP_CHECK_SECONDS = 0.25  # how often a connection closed under the client is looked for
RECONNECT_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # between failed reconnects (Slack unreachable)
CONNECT_TIMEOUT_SECONDS = 30.0
PING_INTERVAL_SECONDS = 10.0  # as in Bolt's adapter; slack_sdk's client calls a connection stale after 4
QUIET_SECONDS = 2.0  # a replaced connection is left once no frame came on it for this long
BUFFERED_SECONDS = 0.05  # for what arrived on it as that time ran out


class _HandoverClient(SocketModeClient):
    """slack_sdk's aiohttp client, opening a new connection before it leaves the one Slack retires.

    Slack's ``disconnect`` message says a connection is to be replaced. slack_sdk then closes it
    first, losing what Slack sends until it reads the close frame (aiohttp drops the frames of a
    closing handshake). Here the new connection is opened while the old one is still read, and the
    old one is closed once nothing has come on it for ``QUIET_SECONDS`` (or Slack closes it); a
    ``disconnect`` read on it meanwhile is dropped. Acks go out on the old connection until the new
    one is open. Only ``too_many_websockets`` still closes first, as slack_sdk does, since one
    connection more is what Slack complains of there.
    """

    def __init__(self, app_token: str, **kwargs: Any) -> None:
        super().__init__(app_token, **kwargs)
        self._close_first = False
        self._retiring: ClientWebSocketResponse | None = None  # the connection being left, while open
        self._opened = asyncio.Event()  # clear while a handover has no connection to send on
        self._opened.set()
        self._leaving: set[asyncio.Task[None]] = set()

    async def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        if message.get("type") == "disconnect":
            self._close_first = message.get("reason") == "too_many_websockets"
        await super().run_message_listeners(message, raw_message)

    async def connect(self) -> None:
        old, receiver = self.current_session, self.message_receiver
        close_first, self._close_first = self._close_first, False
        if old is None or old.closed or close_first:
            await super().connect()  # type: ignore[no-untyped-call]
            return
        self._opened.clear()
        self._retiring, self.current_session = old, None  # so slack_sdk opens one without closing this
        try:
            if receiver is not None:  # its reading passes to ``_leave``: one reader per connection
                receiver.cancel()
                await asyncio.wait([receiver])
            leaving = asyncio.ensure_future(self._leave(old))
            self._leaving.add(leaving)
            leaving.add_done_callback(self._leaving.discard)
            await super().connect()  # type: ignore[no-untyped-call]
        finally:
            self._opened.set()

    async def _leave(self, old: ClientWebSocketResponse) -> None:
        """Read a replaced connection until Slack is done with it, then close it.

        Done: closed by Slack, or nothing for ``QUIET_SECONDS`` counted from when the new connection
        is open (a slow handshake must not eat into it). What is already buffered then is still read.
        """
        loop = asyncio.get_running_loop()
        quiet_until: float | None = None
        try:
            while not self.closed:
                if quiet_until is None and self.current_session is not None:
                    quiet_until = loop.time() + QUIET_SECONDS
                wait = QUIET_SECONDS if quiet_until is None else quiet_until - loop.time()
                if wait <= 0:
                    await self._read_buffered(old)
                    break
                try:
                    message = await old.receive(timeout=wait)
                except TimeoutError:
                    continue
                if quiet_until is not None:
                    quiet_until = loop.time() + QUIET_SECONDS
                if not await self._take(old, message):
                    break
        finally:
            if self._retiring is old:
                self._retiring = None
            await old.close()

    async def _read_buffered(self, old: ClientWebSocketResponse) -> None:
        """Frames that arrived as the quiet time ran out (closing would throw them away)."""
        with contextlib.suppress(TimeoutError):
            while await self._take(old, await old.receive(timeout=BUFFERED_SECONDS)):
                pass

    async def _take(self, old: ClientWebSocketResponse, message: WSMessage) -> bool:
        """Hand on an envelope read on the connection being left, as slack_sdk's reader would, or
        answer a ping; False once the connection is closed or broken."""
        if message.type is WSMsgType.TEXT:
            if not _is_disconnect(message.data):  # about this connection, which is being left
                await self.enqueue_message(message.data)
            return True
        if message.type is WSMsgType.PING:
            try:
                await old.pong(message.data)
            except ConnectionError:
                return False
            return True
        return message.type is WSMsgType.PONG

    async def send_message(self, message: str) -> None:
        """Until the new connection is open, on the one being left (Slack takes an ack on any of the
        app's connections), so no ack waits on a slow handshake while a connection is open."""
        retiring = self._retiring
        if self.current_session is None and retiring is not None and not retiring.closed:
            with contextlib.suppress(ConnectionError):
                await retiring.send_str(message)
                return
        await self._opened.wait()
        await super().send_message(message)

    async def close(self) -> None:
        for leaving in list(self._leaving):
            leaving.cancel()
        await asyncio.gather(*self._leaving, return_exceptions=True)
        self._opened.set()
        await super().close()  # type: ignore[no-untyped-call]


def _is_disconnect(raw_message: str) -> bool:
    """Whether a message is Slack's ``disconnect``: after ``warning`` comes ``refresh_requested`` on
    the same connection, which would otherwise replace the new connection too."""
    try:
        message = json.loads(raw_message)
    except ValueError:
        return False  # not Slack's; slack_sdk's reader logs it as it would any other
    return isinstance(message, dict) and message.get("type") == "disconnect"


class _Handler(AsyncBaseSocketModeHandler):
    """Bolt's aiohttp handler for a synchronous ``App`` on a ``_HandoverClient``, run in ``acks``' threads."""

    app: App
    client: _HandoverClient

    def __init__(
        self, app: App, app_token: str, web_client: AsyncWebClient, acks: ThreadPoolExecutor
    ) -> None:
        self.app = app
        self.client = _HandoverClient(
            app_token,
            logger=app.logger,
            web_client=web_client,
            proxy=app.client.proxy,
            ping_interval=PING_INTERVAL_SECONDS,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
        self._acks = acks

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        response = await asyncio.get_running_loop().run_in_executor(self._acks, run_bolt_app, self.app, req)
        await send_async_response(client, req, response, started)


class SocketModeConnection:
    """The app connected to Slack in Socket Mode, on an event loop in a thread of its own.

    ``connect()`` returns once the first connection is open; ``start()`` connects and blocks, as
    Bolt's ``SocketModeHandler.start()`` does; ``close()`` leaves Slack and stops the thread.
    """

    def __init__(self, app: App, app_token: str) -> None:
        self._app = app
        self._app_token = app_token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode", daemon=True)
        self._acks = ThreadPoolExecutor(ACK_THREADS, thread_name_prefix="socket-mode-ack")
        self._handler: _Handler | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = threading.Event()

    def connect(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(CONNECT_TIMEOUT_SECONDS)

    def start(self) -> None:
        self.connect()
        self._closed.wait()

    def close(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(CONNECT_TIMEOUT_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONNECT_TIMEOUT_SECONDS)
        self._acks.shutdown(wait=True)
        self._closed.set()

    async def _connect(self) -> None:
        # Built on the loop: slack_sdk's client starts its tasks (and aiohttp its session) in __init__.
        web_client = AsyncWebClient(
            base_url=self._app.client.base_url,
            ssl=self._app.client.ssl,
            proxy=self._app.client.proxy,
            timeout=self._app.client.timeout,
        )
        self._handler = _Handler(self._app, self._app_token, web_client, self._acks)
        await self._handler.connect_async()  # type: ignore[no-untyped-call]
        self._watchdog = asyncio.create_task(_reconnect_when_dropped(self._handler.client))

    async def _close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]


async def _reconnect_when_dropped(client: SocketModeClient) -> None:
    """Reconnect as soon as the connection is found closed, not at the monitor's next 10-second look.

    ``auto_reconnect_enabled`` is off while the client is replacing its connection itself (after a
    ``disconnect`` message or a close frame), and the client's lock keeps two reconnects apart.
    """
    failures = 0
    while not client.closed:
        await asyncio.sleep(DROP_CHECK_SECONDS)
        session = client.current_session
        if not (client.auto_reconnect_enabled and session is not None and session.closed):
            continue
        logger.info("Socket Mode connection closed without a goodbye; reconnecting")
        try:
            await client.connect_to_new_endpoint()
            failures = 0
        except Exception:
            delay = RECONNECT_BACKOFF_SECONDS[min(failures, len(RECONNECT_BACKOFF_SECONDS) - 1)]
            failures += 1
            logger.exception("Socket Mode reconnect failed; trying again in %.0f s", delay)
            await asyncio.sleep(delay)
