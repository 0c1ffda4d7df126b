"""Socket Mode for the fake Slack: the WebSocket server that ``apps.connections.open`` points at.

``with FakeSocketMode(slack) as socket_mode:`` serves WebSockets on 127.0.0.1 at a free port and
makes the fake's ``apps.connections.open`` (called with the app-level token) answer a one-use
``ws://`` URL, as Slack answers a one-use ``wss://`` URL. The app's real Socket Mode client
connects to it; the server greets every connection with ``hello``, pushes the envelopes a test
gives it on the newest connection (or the one the test names), sends ``disconnect`` when told to,
and records everything the client sends back (the acks), with waits like the HTTP side's
``wait_for``. Pings are answered by the WebSocket library, as Slack's servers answer them.

It also makes the faults a client meets in production (the ideas of python-slack-sdk's own mock
server in ``tests/slack_sdk/socket_mode/``, taken further): a ``disconnect`` message with reason
``refresh_requested``, ``warning`` or ``too_many_websockets`` (Slack's notice before it closes a
connection), an orderly close (a close frame, as when Slack ends a connection it warned about), and
a connection dropped without any close frame (a proxy or load balancer going away): the TCP socket
closed with a FIN, or reset. An envelope pushed while no connection is open waits for the next one,
as Slack holds an envelope until the app is reachable again.

It needs the ``websockets`` package (the ``dev`` extra), which is why it is not part of
``bot.console.fake_web_api``: the console imports that module in production installs.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

from bot.console.fake_web_api import FakeSlack

APP_ID = "A0CRM"
LINK_PATH = "/link/"
DEBUG_INFO = {"host": "fake-applink", "approximate_connection_time": 18060}
WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Ack:
    """What the client sent back for an envelope; ``connection`` counts connections from 1.

    ``at`` is when it arrived (``time.monotonic()``), to hold against Slack's 3-second deadline.
    """

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    at: float


class FakeSocketMode:
    """Slack's side of Socket Mode connections, for the ``FakeSlack`` it is plugged into."""

    def __init__(self, slack: FakeSlack) -> None:
        self._slack = slack
        self._changed = threading.Condition()
        self._tickets = itertools.count(1)
        self._issued: set[str] = set()
        self._open: dict[int, ServerConnection] = {}  # connection number -> connection, while open
        self._ending: set[ServerConnection] = set()  # closed or dropped by the fake, not yet gone
        self._greeted = 0
        self._handshake_delay = 0.0
        self._hellos: dict[int, dict[str, Any]] = {}  # connection number -> the hello it was sent
        self._received: list[tuple[int, dict[str, Any], float]] = []
        self._server: Server = serve(self._serve, "127.0.0.1", 0, process_request=self._check_ticket)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        self._slack.serve_socket_mode(self._issue_url)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._thread.join(timeout=WAIT_SECONDS)

    # -- driving the client ----------------------------------------------------------------------

    def push(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: int | None = None,
    ) -> str:
        """Send an envelope (``events_api``, ``slash_commands``, ``interactive``); its id is returned.

        It goes on the newest connection, or on ``connection`` (counted from 1), which must be open:
        Slack may use any connection the app holds open, also one it has asked the app to replace.
        """
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        self._numbered(connection).send(json.dumps(envelope))
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested", *, connection: int | None = None) -> None:
        """Ask the client to move to a new connection, as Slack does before it closes one.

        ``refresh_requested`` and ``warning`` are Slack's two everyday reasons (a connection lives a
        few hours; Slack sends both, a few seconds apart); the old connection stays open until the
        client leaves it. It goes where ``push`` would send an envelope.
        """
        message = {"type": "disconnect", "reason": reason, "debug_info": DEBUG_INFO}
        self._numbered(connection).send(json.dumps(message))

    def slow_handshakes(self, seconds: float) -> None:
        """Answer each new connection's handshake ``seconds`` late, as a slow network or TLS does."""
        with self._changed:
            self._handshake_delay = seconds

    def close(self, code: int = 1001, reason: str = "going away") -> None:
        """End the newest connection with a close frame, as Slack does with one it has retired.

        The closing handshake finishes in the background (the client answers the close frame, or
        the library gives up after its timeout); no envelope goes to that connection meanwhile.
        """
        connection = self._take_newest()
        threading.Thread(target=connection.close, args=(code, reason), daemon=True).start()

    def drop(self, *, reset: bool = False) -> None:
        """End the newest connection without a close frame: its TCP socket closed (FIN) or reset (RST).

        This is what the client sees when a proxy, a load balancer or the network between it and
        Slack goes away: no WebSocket goodbye, only the end of the stream.
        """
        connection = self._take_newest()
        if reset:  # a zero linger time makes close() send RST instead of FIN
            connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close_socket()

    # -- inspection ------------------------------------------------------------------------------

    @property
    def acks(self) -> list[Ack]:
        with self._changed:
            return [_ack(n, message, at) for n, message, at in self._received if "envelope_id" in message]

    def hello(self, number: int) -> dict[str, Any]:
        """The ``hello`` connection ``number`` was greeted with (``num_connections`` counts it too)."""
        with self._changed:
            return self._hellos[number]

    def wait_connected(self, *, count: int = 1, timeout: float = WAIT_SECONDS) -> None:
        """Block until ``count`` connections (in all) were opened and greeted with ``hello``."""
        self._wait(lambda: self._greeted >= count, timeout, f"{count} connection(s)")

    def wait_closed(self, number: int, *, timeout: float = WAIT_SECONDS) -> None:
        """Block until the client has closed connection ``number`` (counted from 1)."""
        self._wait(lambda: number <= self._greeted and number not in self._open, timeout, f"{number} closed")

    def wait_for_ack(self, envelope_id: str, *, timeout: float = WAIT_SECONDS) -> Ack:
        """The client's first ack of ``envelope_id``; fails naming what the client did send."""

        def acked() -> list[Ack]:
            return [a for a in self.acks if a.envelope_id == envelope_id]

        self._wait(lambda: bool(acked()), timeout, f"an ack of {envelope_id}")
        return acked()[0]

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(done, timeout=timeout):
                raise AssertionError(
                    f"expected {what} in {timeout}s; {self._greeted} connection(s) greeted, "
                    f"open: {sorted(self._open)}, received: {self._received}"
                )

    # -- serving ---------------------------------------------------------------------------------

    def _issue_url(self) -> str:
        ticket = f"ticket-{next(self._tickets)}"
        with self._changed:
            self._issued.add(ticket)
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}{LINK_PATH}?ticket={ticket}&app_id={APP_ID}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a URL that was not issued, or was used already: Slack's URLs are good for one
        connection. A good one is answered after ``slow_handshakes``' delay, if one was set."""
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._changed:
            if url.path != LINK_PATH or ticket not in self._issued:
                return connection.respond(HTTPStatus.FORBIDDEN, "invalid ticket\n")
            self._issued.discard(ticket)
            delay = self._handshake_delay
        time.sleep(delay)
        return None

    def _serve(self, connection: ServerConnection) -> None:
        number = self._greet(connection)
        try:
            for message in connection:
                self._record(number, json.loads(message))
        except ConnectionClosed:
            pass  # the client dropped the socket without a closing handshake, as slack_sdk's does
        finally:
            with self._changed:
                del self._open[number]
                self._changed.notify_all()

    def _greet(self, connection: ServerConnection) -> int:
        """Number the connection once ``hello`` is out, so no envelope can overtake it on the wire."""
        with self._changed:
            hello = {
                "type": "hello",
                "num_connections": len(self._still_open()) + 1,
                "debug_info": DEBUG_INFO,
                "connection_info": {"app_id": APP_ID},
            }
            connection.send(json.dumps(hello))
            number = self._greeted = self._greeted + 1
            self._hellos[number] = hello
            self._open[number] = connection
            self._changed.notify_all()
        return number

    def _record(self, number: int, message: dict[str, Any]) -> None:
        with self._changed:
            self._received.append((number, message, time.monotonic()))
            self._changed.notify_all()

    def _numbered(self, number: int | None) -> ServerConnection:
        if number is None:
            return self._newest()
        with self._changed:
            assert number in self._live(), f"connection {number} is not open; open: {self._live()}"
            return self._open[number]

    def _newest(self) -> ServerConnection:
        """The newest open connection, waiting for the client to open one if none is."""
        with self._changed:
            self._wait(lambda: bool(self._live()), WAIT_SECONDS, "an open connection")
            return self._open[max(self._live())]

    def _take_newest(self) -> ServerConnection:
        """The newest open connection, from now on out of reach of ``push`` (it is being ended)."""
        connection = self._newest()
        with self._changed:
            self._ending.add(connection)
        return connection

    def _still_open(self) -> list[int]:
        """Connections the client has not begun to close (a close frame read moves one to CLOSING)."""
        return [number for number, connection in self._open.items() if connection.state is State.OPEN]

    def _live(self) -> list[int]:
        return [number for number, connection in self._open.items() if connection not in self._ending]


def _ack(number: int, message: dict[str, Any], at: float) -> Ack:
    return Ack(envelope_id=message["envelope_id"], payload=message.get("payload"), connection=number, at=at)
