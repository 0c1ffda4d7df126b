"""End-to-end fixtures: a fake Slack, and the real app served by the production server code.

Each test gets its own fake Slack (a real HTTP server) and its own app built by ``create_app`` with
real settings pointing ``SLACK_API_URL`` at the fake, served by
``bot.transport.http_server.HttpServer`` (waitress) on a free port, exactly as ``crm-bot serve``
does. The clock is fixed, so "today" is known; waiting is done on what the fake records, never by
sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot.app import LISTENER_THREADS, create_app
from bot.console.fake_web_api import FakeSlack
from bot.transport.http_server import HttpServer
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings
from tests.bot.harness import SlackSender

BOT_TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "test-signing-secret-0123456789"
NOW = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)  # a Wednesday, 18:00 in Tokyo
SALES = "U0SALES"  # an English-speaking rep in UTC
JA = "U0JAPAN"  # a Japanese-speaking rep in Tokyo


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=BOT_TOKEN) as fake:
        fake.add_user(SALES, name="sam", locale="en-US", tz="UTC")
        fake.add_user(JA, name="hanako", locale="ja-JP", tz="Asia/Tokyo")
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(slack: FakeSlack, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        timezone="UTC",
    )


@pytest.fixture
def listeners() -> ListenerPool:
    """The app's listener threads; ``listeners.settle(…)`` waits until every listener has finished."""
    return ListenerPool(max_workers=LISTENER_THREADS)


@contextmanager
def serving(app: App, slack: FakeSlack) -> Iterator[HttpServer]:
    """``app`` served on a free port until the block ends, as ``crm-bot serve`` serves it."""
    served = HttpServer(app, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=served.serve_forever, name="crm-bot-http", daemon=True)
    thread.start()
    yield served
    slack.release_holds()
    served.stop()
    thread.join(timeout=10)
    # Let lazy listeners finish before the store is emptied for the next test.
    app.listener_runner.listener_executor.shutdown(wait=True)


@pytest.fixture
def server(
    settings: Settings, engine: Engine, clock: Clock, slack: FakeSlack, listeners: ListenerPool
) -> Iterator[HttpServer]:
    with serving(create_app(settings, engine, clock=clock, listener_executor=listeners), slack) as served:
        yield served


@pytest.fixture
def sender(server: HttpServer, slack: FakeSlack) -> SlackSender:
    return SlackSender(server.url, SIGNING_SECRET, slack)
