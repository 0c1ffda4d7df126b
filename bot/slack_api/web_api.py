"""The Web API client for Slack, retrying what is worth retrying.

Slack answers bursts with 429 and a Retry-After, and has the odd 5xx; a post lost to either would
leave the user with silence, so the client retries connection errors, 429s (after Retry-After) and
500/503s. Retrying sleeps, so posts are sent only after the request was acknowledged, on the
listener pool (``bot.listeners.wiring``), never on the request's thread, which must answer Slack
within 3 seconds. (One call may still come before an ack: ``users.info``, when a modal's
submission or picker comes from someone this process has not looked up lately, ``bot.request.people``.)
Replies to response URLs, retried the same way, go from a thread of their own
(``bot.slack_api.replies``); Bolt's own ``respond`` does not retry 429 or 5xx.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.error import HTTPError

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
