"""What listeners need beyond the request, built once by ``create_app`` (or once per worker process).

It lives apart from ``UserRequest`` so that the request, the error handler and the worker processes
can all depend on it without depending on each other: the worker processes are known here only as
a ``Dispatcher``, something a request can be handed to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from bot.request.people import People
from crm_core.config import Settings

if TYPE_CHECKING:
    from bot.transport.inbox import Inbox


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Envelope:
    """What a handler reads from Bolt's request, as data that can be sent to another process."""

    body: dict[str, Any]
    context: dict[str, Any]
    headers: dict[str, list[str]]
    inbox_id: int | None = None  # its row in the inbox (``crm_core.inbox``), marked done by its handler


def envelope(
    body: Mapping[str, Any], context: Mapping[str, Any], headers: Mapping[str, Sequence[str]]
) -> Envelope:
    authorized = context.get("authorize_result")
    return Envelope(
        body=dict(body),
        context={
            "user_id": context.get("user_id"),
            # The workspace the app is installed in (auth.test, through Bolt): what guests are told apart by.
            "team_id": getattr(authorized, "team_id", None) or context.get("team_id"),
            "bot_user_id": context.get("bot_user_id"),
            "channel_id": context.get("channel_id"),
            "response_url": context.get("response_url"),
        },
        headers={name: list(values) for name, values in headers.items()},
    )


class Dispatcher(Protocol):
    """Runs a declared handler on a request elsewhere (``bot.transport.worker_processes``).

    The declaration is opaque here: a dispatcher only carries it to ``bot.request.errors.run_handler``.
    """

    def submit(self, declaration: Any, request: Envelope) -> object: ...


@dataclass(frozen=True)
class Deps:
    engine: Engine
    settings: Settings  # for CRM_ADMINS and CRM_DEFAULT_ROLE
    people: People
    executor: Executor
    clock: Callable[[], dt.datetime] = utc_now
    workers: Dispatcher | None = None  # where the work after an ack runs, when not on ``executor``
    inbox: Inbox | None = None  # where a request is kept before its ack (none in worker processes)
    # Posts pending channel alerts in the background (``bot.jobs.alerts``), called after a request
    # recorded one; none in worker processes, whose alerts the scheduler's next round posts.
    alerts: Callable[[], None] | None = None
