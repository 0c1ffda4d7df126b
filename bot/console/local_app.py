"""The app and a Slack of its own on this machine: what ``crm-bot console`` talks to.

The real Bolt app (``create_app``) is served by the production HTTP server class on 127.0.0.1 at a
free port, with a signing secret made up for this session; its Web API client talks to the local
fake Slack (``bot.console.fake_web_api``). Requests go in signed, exactly as Slack sends them, and what the
app says back is read from the calls the fake recorded, once every listener has finished.
"""

from __future__ import annotations

import secrets
import threading
from contextlib import ExitStack
from dataclasses import replace
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from bot.app import LISTENER_THREADS, create_app
from bot.console.fake_web_api import RESPONSE_URL, Call, FakeSlack
from bot.console.signed_requests import SlackSender
from bot.transport.http_server import HttpServer
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings

SERVER_THREADS = 4
# What the app shows a person: every other Web API call (users.info, conversations.replies…) is
# the app asking Slack something.
FILE_SHARED = "files.completeUploadExternal"  # files_upload_v2's last call: the file is in the conversation
SHOWN = frozenset(
    {RESPONSE_URL, "chat.postEphemeral", "chat.postMessage", "views.open", "views.publish", FILE_SHARED}
)


class LocalSlack:
    """``with LocalSlack(settings, engine, user=…, locale=…) as slack:`` until the block ends."""

    def __init__(self, settings: Settings, engine: Engine, *, user: str, locale: str) -> None:
        self.user = user
        self.fake = FakeSlack(token=f"xoxb-console-{secrets.token_hex(8)}")
        self.fake.add_user(user, name="you", locale=locale, tz=settings.timezone)
        self._settings = settings
        self._engine = engine
        self._secret = secrets.token_hex(32)
        self._pool = ListenerPool(max_workers=LISTENER_THREADS)
        self._stack = ExitStack()  # what stops it all, in reverse order of starting
        self._seen = 0

    def __enter__(self) -> LocalSlack:
        with ExitStack() as stack:  # if starting fails half-way, what did start is stopped
            stack.enter_context(self.fake)
            settings = replace(
                self._settings,
                slack_bot_token=self.fake.token,
                slack_signing_secret=self._secret,
                slack_app_token=None,
                slack_api_url=self.fake.api_url,
                admins=(*self._settings.admins, self.user),
            )
            app = create_app(settings, self._engine, listener_executor=self._pool)
            stack.callback(self._pool.shutdown, wait=True)
            server = HttpServer(
                app, signing_secret=self._secret, host="127.0.0.1", port=0, threads=SERVER_THREADS
            )
            thread = threading.Thread(target=server.serve_forever, name="crm-console-http", daemon=True)
            thread.start()
            stack.callback(thread.join, timeout=10)
            stack.callback(server.stop)
            self.sender = SlackSender(server.url, self._secret, self.fake)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def shown_since_last_time(self, timeout: float) -> tuple[list[Call], bool]:
        """What the app showed since the last call (once its listeners finished), and whether they did."""
        settled = self._pool.settle(timeout)
        calls = self.fake.calls
        new, self._seen = calls[self._seen :], len(calls)
        return [c for c in new if c.ok and c.method in SHOWN], settled

    @property
    def log_reaction(self) -> str:
        return self._settings.log_reaction

    def home_view(self) -> dict[str, Any] | None:
        return self.fake.home_view(self.user)
