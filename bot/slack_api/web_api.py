"""HTTP clients for Slack: the Web API and response URLs, both retrying what is worth retrying.

Slack answers bursts with 429 and a Retry-After, and has the odd 5xx; a reply lost to either would
leave the user with silence, so both clients retry connection errors, 429s (after Retry-After) and
500/503s. Retrying sleeps, so replies and posts are sent only after the request was acknowledged,
on the listener pool (``bot.listeners.wiring``), never on the request's thread, which must answer
Slack within 3 seconds. (One call may still come before an ack: ``users.info``, when a modal's
submission or picker comes from someone this process has not looked up lately, ``bot.request.people``.)
Bolt's own ``respond`` does not retry 429 or 5xx, hence ``post_to_response_url``.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import ssl
import threading
import time
from http.client import HTTPConnection, HTTPMessage, HTTPSConnection
from typing import Any
from urllib.error import HTTPError
from urllib.parse import SplitResult, urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from crm_core.config import Settings

log = logging.getLogger(__name__)

MAX_RETRIES = 2
TIMEOUT_SECONDS = 10


def retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
        RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
    ]


def make_web_client(settings: Settings, *, logger: logging.Logger | None = None) -> WebClient:
    """The bot's Web API client, talking to ``SLACK_API_URL`` (a local fake in tests and the console);
    ``logger`` replaces slack_sdk's own, for a caller that reports failures itself."""
    base_url = settings.slack_api_url or WebClient.BASE_URL
    return WebClient(
        token=settings.require("SLACK_BOT_TOKEN"),
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
        logger=logger,
    )


def without_ambiguous_retries(client: WebClient) -> WebClient:
    """The same client, retrying only 429s, which Slack answers before doing anything.

    After a timeout, a dropped connection or a 5xx, a message may have been posted all the same;
    retrying at once could post it twice. Callers that must post exactly once (digests) leave
    those cases to a later, checked attempt instead.
    """
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES)],
    )


def post_to_response_url(url: str, message: dict[str, Any]) -> bool:
    """Send ``message`` to an interaction's response URL; False (and a log line) if it did not arrive.

    A reply that times out may well have reached Slack, and the action it reports is committed by
    then: raising would make the error handler apologise that nothing was saved, and a user who
    tries again would do it twice. So a failed reply is logged, not raised.
    """
    try:
        status, body = _response_urls.post(url, message)
    except OSError as error:  # timeouts and dropped connections, after the retries
        log.warning("a reply to a response URL did not arrive: %s", type(error).__name__)
        return False
    if status != 200:
        # The URL itself is a credential for this conversation: never log it.
        log.warning("response URL refused a reply: HTTP %s %s", status, body[:200])
        return False
    return True


class _ResponseUrlPoster:
    """Posts to response URLs over one kept-alive connection per thread and host.

    slack_sdk's ``WebhookClient`` goes through urllib, which opens a connection per post (and
    builds an opener, a request and a retry state each time): on a server answering a hundred
    commands a second that was a tenth of the CPU spent per ``/crm find``, and a TCP (and TLS)
    handshake before every answer. All response URLs of a workspace are on one host
    (hooks.slack.com), so each thread keeps its connection there open between replies.

    Retried as slack_sdk retries them (``retry_handlers``): a connection that fails before an
    answer, 429 after its Retry-After, 500 and 503 after a backoff, up to ``MAX_RETRIES`` times; a
    timeout while waiting for the answer is not, since Slack may have taken the reply. A kept
    connection that the other side closed while idle fails at once on its next use: that post is
    sent again on a new connection without counting as a retry.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, url: str, message: dict[str, Any]) -> tuple[int, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a response URL is an http(s) URL")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = json.dumps(message).encode()
        attempt = 0
        while True:
            try:
                status, headers, answer = self._send(parts, target, body)
            except (ConnectionError, _Unsent) as error:
                if attempt == MAX_RETRIES:
                    raise error.cause if isinstance(error, _Unsent) else error from None
                time.sleep(_backoff(attempt))
            else:
                if status == 429 and attempt < MAX_RETRIES:
                    time.sleep(_retry_after(headers) + random.random())
                elif status in (500, 503) and attempt < MAX_RETRIES:
                    time.sleep(_backoff(attempt))
                else:
                    return status, answer
            attempt += 1

    def _send(self, parts: SplitResult, target: str, body: bytes) -> tuple[int, HTTPMessage, str]:
        key = (parts.scheme, parts.netloc)
        kept: dict[tuple[str, str], HTTPConnection] = self._local.__dict__.setdefault("connections", {})
        connection = kept.pop(key, None)
        if connection is not None:
            try:
                return self._exchange(connection, kept, key, target, body)
            except (ConnectionError, _Unsent):
                pass  # closed by the other side while idle: a new connection, not a retry
        connection = self._connect(parts)
        return self._exchange(connection, kept, key, target, body)

    @staticmethod
    def _connect(parts: SplitResult) -> HTTPConnection:
        host, port = parts.hostname or "", parts.port
        if parts.scheme == "https":
            return HTTPSConnection(host, port, timeout=TIMEOUT_SECONDS, context=_tls())
        return HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)

    @staticmethod
    def _exchange(
        connection: HTTPConnection,
        kept: dict[tuple[str, str], HTTPConnection],
        key: tuple[str, str],
        target: str,
        body: bytes,
    ) -> tuple[int, HTTPMessage, str]:
        connection.timeout = TIMEOUT_SECONDS
        if connection.sock is not None:
            connection.sock.settimeout(TIMEOUT_SECONDS)
        try:
            try:
                connection.request("POST", target, body=body, headers=_HEADERS)
            except OSError as error:  # nothing was answered: the post may be sent again
                raise _Unsent(error) from error
            response = connection.getresponse()
            answer = response.read().decode("utf-8", "replace")
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            kept[key] = connection
        return response.status, response.headers, answer


class _Unsent(Exception):
    """The request could not be sent (a refused, reset or timed-out connection): Slack has not seen it."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


_HEADERS = {"Content-Type": "application/json;charset=utf-8", "User-Agent": "crm-bot"}
_response_urls = _ResponseUrlPoster()


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _backoff(attempt: int) -> float:
    """slack_sdk's default: half a second, doubled at each retry, plus up to a second of jitter."""
    return float(0.5 * 2**attempt) + random.random()


def _retry_after(headers: HTTPMessage) -> float:
    try:
        return float(headers.get("Retry-After") or 1)
    except ValueError:
        return 1.0


UPLOAD_RETRY_SECONDS = 1.0


def upload_file(client: WebClient, **file: Any) -> None:
    """``files_upload_v2``, tried again when the file's bytes are refused.

    The Web API calls around the upload retry 429s and 5xx like every call, but the bytes go to a
    one-use URL with a plain POST that slack_sdk does not retry. A refusal there leaves no file
    (``files.completeUploadExternal`` was never called), so trying the whole upload again, with a
    new URL, cannot send the file twice.
    """
    for attempt in range(MAX_RETRIES + 1):
        try:
            client.files_upload_v2(**file)
            return
        except (SlackRequestError, HTTPError):  # the byte POST's refusal, as slack_sdk surfaces it
            if attempt == MAX_RETRIES:
                raise
            time.sleep(UPLOAD_RETRY_SECONDS * (attempt + 1))
