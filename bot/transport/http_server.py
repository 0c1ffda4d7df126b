"""Serving the Bolt app over HTTP with waitress: ``POST /slack/events`` and ``GET /healthz``.

Bolt's built-in server is single-threaded and meant for development; waitress is a pure-Python,
multi-threaded production WSGI server, so concurrent requests from Slack each get a thread and are
acknowledged in time. ``crm-bot serve`` and the end-to-end tests run this same code.

What happens to a request, in order, and why:

1. Bodies over ``MAX_BODY_BYTES`` are answered 413 by waitress itself, from the Content-Length
   header (or as a chunked body grows past it), before the body is buffered: Slack's own payloads
   stay far below, so a bigger one is not from Slack and must cost us nothing.
2. Slack's ``ssl_check=1`` probe, which Slack sends unsigned, gets an empty 200 and nothing else.
3. The v0 signature and the timestamp are checked on the raw bytes (``bot.transport.signature``).
   A request that fails gets 401 and one log line (the reason, the client's address, the body's
   length), never its body: Bolt, the error handler and the listeners never see it, so nothing it
   names (a response URL, a user, a channel) is ever used.
4. Only then is the body parsed (``bot.request.bolt_requests``); a signed body that cannot be read
   gets 400 and one log line, without a traceback.
5. Bolt dispatches it; should Bolt itself fail on a signed body's shape, that too is a 400 and
   one line. Bolt's own signature check stays on as a second one: it costs one HMAC,
   and it still guards any future path into ``App.dispatch`` that skips this server. It can only
   fail here in the millisecond a request crosses the five-minute line between the two checks, and
   then its log line (which would quote the body) is cut to a sentence by ``_BoltVerificationLog``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from waitress import wasyncore

from bot.log_lines import printable, where
from bot.request.bolt_requests import Unreadable, bolt_request
from bot.transport.signature import SignatureVerifier

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_THREADS = 16
STOP_POLL_SECONDS = 0.2  # how soon the serving loop notices a stop
MAX_BODY_BYTES = 1024 * 1024  # Slack's biggest payloads (a modal's full state) are tens of KiB
_TEXT: dict[str, Sequence[str]] = {"content-type": ["text/plain; charset=utf-8"]}


def wsgi_application(app: App, signing_secret: str) -> WSGIApplication:
    """Slack's verified requests go to Bolt; a health check answers without touching Slack or the store."""
    verifier = SignatureVerifier(signing_secret)
    _BoltVerificationLog.install()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            answer = WsgiHttpResponse(200, _TEXT, "ok\n")
        elif path == EVENTS_PATH and method == "POST":
            answer = _slack_request(app, verifier, environ)
        else:
            answer = WsgiHttpResponse(404, _TEXT, "Not Found")
        start_response(answer.status, answer.get_headers())
        return answer.get_body()

    return application


def _slack_request(app: App, verifier: SignatureVerifier, environ: WSGIEnvironment) -> WsgiHttpResponse:
    body = _read_body(environ)
    if _is_ssl_check(body):
        return WsgiHttpResponse(200)
    wsgi = WsgiHttpRequest(environ)
    headers = wsgi.get_headers()
    refused = verifier.refusal(
        body, _header(headers, "x-slack-request-timestamp"), _header(headers, "x-slack-signature")
    )
    if refused:
        _log_refusal("an unverified request", refused, environ, body)
        return WsgiHttpResponse(401, _TEXT, "invalid request")
    try:
        request = bolt_request(body, query=wsgi.query_string, headers=headers)
    except Unreadable as unreadable:
        _log_refusal("a signed request that cannot be read", str(unreadable), environ, body)
        return WsgiHttpResponse(400, _TEXT, "bad request")
    try:
        response = app.dispatch(request)
    except Exception as error:
        # Bolt hands our listeners' errors to the app's error handler; what escapes dispatch is Bolt
        # itself failing on a body of a shape Slack never sends (``"event": null``).
        _log_refusal(
            "a signed request Bolt failed on", f"{type(error).__name__} at {where(error)}", environ, body
        )
        return WsgiHttpResponse(400, _TEXT, "bad request")
    return WsgiHttpResponse(response.status, response.headers, response.body)


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:  # waitress refuses such requests itself; any other server gets an empty body
        length = 0
    return bytes(environ["wsgi.input"].read(min(max(length, 0), MAX_BODY_BYTES)))


def _is_ssl_check(body: bytes) -> bool:
    """Slack's probe of a slash command's URL (``ssl_check=1&token=…``), which it sends unsigned.

    Its answer is an empty 200 whatever else the body says, so reading it before the signature
    gives a forger nothing: no listener runs and nothing in it is used.
    """
    if not body.startswith(b"ssl_check=") and b"&ssl_check=" not in body:
        return False
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _log_refusal(what: str, reason: str, environ: WSGIEnvironment, body: bytes) -> None:
    """One line per refused request: why, from where, how long; never the body or a header's value."""
    address = printable(environ.get("REMOTE_ADDR") or "unknown address")
    log.warning("refused %s to %s: %s (from %s, %d bytes)", what, EVENTS_PATH, reason, address, len(body))


class _BoltVerificationLog(logging.Filter):
    """Bolt's signature check logs the whole body of a request it refuses: keep only that it did."""

    LOGGER = "slack_bolt.RequestVerification"

    @classmethod
    def install(cls) -> None:
        logger = logging.getLogger(cls.LOGGER)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = "Bolt's own signature check refused a request (body not logged)", None
        return True


class HttpServer:
    """A waitress server on ``host:port`` (port 0 picks a free one) that can be stopped from any thread."""

    def __init__(
        self, app: App, *, signing_secret: str, host: str, port: int, threads: int = DEFAULT_THREADS
    ) -> None:
        self._server: Any = waitress.create_server(
            wsgi_application(app, signing_secret),
            host=host,
            port=port,
            threads=threads,
            ident="crm-bot",
            max_request_body_size=MAX_BODY_BYTES,
        )
        self._stopped = threading.Event()
        self._stop_asked = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def serve_forever(self) -> None:
        """Waitress's loop, one poll at a time, until ``stop`` is asked; then close from this thread."""
        try:
            while not self._stop_asked.is_set() and self._server._map:
                wasyncore.loop(
                    timeout=STOP_POLL_SECONDS,
                    use_poll=self._server.adj.asyncore_use_poll,
                    map=self._server._map,
                    count=1,
                )
        finally:
            self._close_all()
            self._stopped.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end (it notices within ``STOP_POLL_SECONDS``), then wait for it to finish.

        Nothing is written to waitress's trigger pipe from here: a stop used to pull that trigger
        from another thread, and once a descriptor number goes stale such a write fails ("Bad file
        descriptor") or, worse, lands in whatever file now has that number.
        """
        self._stop_asked.set()
        self._stopped.wait(timeout)

    def _close_all(self) -> None:
        """Close the sockets, let the request threads finish, and only then close the loop's trigger.

        The trigger is a pipe that each finished request writes a byte to; closed while a request
        thread was still running, that write would go to a descriptor number the process may have
        given to another file meanwhile (a SQLite store: "disk I/O error").
        """
        trigger = self._server.trigger
        for channel in list(self._server._map.values()):
            if channel is not trigger:
                channel.close()
        self._server.task_dispatcher.shutdown()
        trigger.close()
