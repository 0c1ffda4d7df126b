"""Socket Mode for ``crm-bot run``: Bolt's aiohttp adapter, plus the two things it lacks for Slack's timing.

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
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.socket_mode.aiohttp import SocketModeHandler
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


class _Handler(SocketModeHandler):
    """Bolt's aiohttp handler for a synchronous ``App``, with the app run in ``acks``' threads."""

    def __init__(
        self, app: App, app_token: str, web_client: AsyncWebClient, acks: ThreadPoolExecutor
    ) -> None:
        super().__init__(app, app_token, web_client=web_client, proxy=app.client.proxy)
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
