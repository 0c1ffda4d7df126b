"""Serving the Bolt app over HTTP with waitress: ``POST /slack/events`` and ``GET /healthz``.

Bolt's built-in server is single-threaded and meant for development; waitress is a pure-Python,
multi-threaded production WSGI server, so concurrent requests from Slack each get a thread and are
acknowledged in time. ``crm-bot serve`` and the end-to-end tests run this same code.

Bodies over ``MAX_BODY_BYTES`` are answered 413 by waitress itself, from the Content-Length header
(or as a chunked body grows past it), before the body is buffered or Bolt computes a signature over
it: Slack's own payloads stay far below, so a bigger one is not from Slack and must cost us nothing.
Every other request to ``/slack/events`` has its signature and timestamp checked by Bolt (v0 HMAC,
5 minutes) before any listener runs; a forged or stale one gets 401.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_THREADS = 16
MAX_BODY_BYTES = 1024 * 1024  # Slack's biggest payloads (a modal's full state) are tens of KiB


def wsgi_application(app: App) -> WSGIApplication:
    """Slack's requests go to Bolt; a health check answers without touching Slack or the store."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return slack(environ, start_response)

    return application


class HttpServer:
    """A waitress server on ``host:port`` (port 0 picks a free one) that can be stopped from any thread."""

    def __init__(self, app: App, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
        self._server: Any = waitress.create_server(
            wsgi_application(app),
            host=host,
            port=port,
            threads=threads,
            ident="crm-bot",
            max_request_body_size=MAX_BODY_BYTES,
        )
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def serve_forever(self) -> None:
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown()
            self._stopped.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listening socket from inside waitress's loop, then wait for it to finish."""
        self._server.trigger.pull_trigger(self._close_all)
        self._stopped.wait(timeout)

    def _close_all(self) -> None:
        for channel in list(self._server._map.values()):
            channel.close()
