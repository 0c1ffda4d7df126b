"""The Bolt app factory: one Web API client, one listener thread pool, listeners per Slack surface."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from sqlalchemy import Engine

from bot.jobs.alerts import post_alerts_as_they_happen
from bot.listeners import (
    actions,
    commands,
    events,
    functions,
    home,
    options,
    reactions,
    reassign,
    shortcuts,
    views,
)
from bot.request import errors
from bot.request.deps import Deps, utc_now
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from bot.transport.inbox import Inbox, InboxSweeper
from bot.transport.worker_processes import WorkerProcesses
from crm_core.config import Settings

# Handlers answered after their ack run on this pool (``bot.transport.inbox.hand_over``, without
# worker processes). Their replies wait for Slack on the reply thread (``bot.slack_api.replies``),
# not here, so the pool needs only as many threads as keep two cores and the store busy: with 32,
# 16 clients' finds ran as 16 runnable threads handing the interpreter lock round, and p99 and CPU
# per find were higher (docs/PERFORMANCE.md, issue 13 item 2). Other Web API calls (a modal opened,
# a message posted) still hold a thread while Slack answers: at 150 ms a call, 4 threads carry
# about 25 of them a second, and a burst beyond that waits its turn in the queue (after its ack).
LISTENER_THREADS = 4


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
    listener_executor: ThreadPoolExecutor | None = None,
    workers: WorkerProcesses | None = None,
    sweep_inbox: bool = False,
) -> App:
    """The app for HTTP, or Socket Mode when SLACK_APP_TOKEN is set.

    Needs SLACK_BOT_TOKEN (checked with Slack now, through auth.test) and, over HTTP,
    SLACK_SIGNING_SECRET; a missing one fails here with a message naming it. The console and the
    tests pass a ``bot.transport.listener_pool.ListenerPool`` as ``listener_executor``, to know when
    it is idle.
    With ``workers``, the work after each ack runs in those processes instead of on the listener pool.
    With ``sweep_inbox`` (``crm-bot serve`` and ``run``), this process also finishes the acknowledged
    requests that a dead process left in the inbox (``bot.transport.inbox.InboxSweeper``).
    """
    client = make_web_client(settings)
    # Socket Mode requests are not signed; over HTTP an empty secret would accept forged requests.
    secret = (
        settings.slack_signing_secret or ""
        if settings.slack_app_token
        else settings.require("SLACK_SIGNING_SECRET")
    )
    executor = listener_executor or ThreadPoolExecutor(
        max_workers=LISTENER_THREADS, thread_name_prefix="crm-listener"
    )
    app = App(
        name="crm-bot",
        client=client,
        signing_secret=secret,
        # Every listener acks quickly itself (``bot.listeners.wiring``: keep, ack, hand over; or a
        # short unit of work before the ack, whose messages go to the pool after it), so Bolt runs
        # it on the HTTP request's thread and answers when it returns. With False, Bolt would hop
        # to another thread for each listener and poll for its ack every 10 ms (CPU and up to 10 ms
        # per ack), and would acknowledge an event before the listener had kept it in the inbox.
        process_before_response=True,
        listener_executor=executor,
    )
    deps = Deps(
        engine=engine,
        settings=settings,
        people=People(engine=engine, default_timezone=settings.timezone),
        executor=executor,
        clock=clock,
        workers=workers,
        inbox=Inbox(engine),
        alerts=post_alerts_as_they_happen(
            engine, client, team_timezone=settings.timezone, clock=clock, executor=executor
        ),
    )
    errors.register(app, deps)
    surfaces = (commands, actions, views, options, reassign, shortcuts, events, home, functions, reactions)
    for surface in surfaces:
        surface.register(app, deps)
    if sweep_inbox:
        assert deps.inbox is not None
        InboxSweeper(deps, client, deps.inbox).start()
    return app
