"""A local stand-in for Slack's Web API and response URLs: a real HTTP server in a background thread.

Tests and ``crm-bot console`` point ``SLACK_API_URL`` at it, so the app's real ``WebClient`` (with
its retry handlers) talks HTTP to it and what is recorded is exactly what Slack would have received.
It can be told to fail the next calls of a method (an API error, HTTP 429 with Retry-After, a 5xx)
or to hold them until released, which is how tests show that acks never wait for the Web API.
Like Slack, it refuses blocks beyond Block Kit's limits, so a renderer that breaks them fails loudly.
``apps.connections.open`` (Socket Mode) answers only when a WebSocket side is plugged in
(``tests.fakes.socket_mode_server``), which keeps this module free of any WebSocket library.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.blocks.limits import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, block_problems

log = logging.getLogger(__name__)

RESPONSE_URL = "response_url"
WORKSPACE_URL = "https://fake-workspace.slack.com/"
JSON_FIELDS = ("blocks", "view", "attachments", "metadata", "files", "outputs")
UPLOAD_PATH = "/upload/"
UPLOAD = "file upload"  # the recorded "method" of a file's bytes arriving at its upload URL
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})  # called with the app-level token, not the bot's
RUNNING = "running"  # a workflow step's state until functions.completeSuccess / completeError ends it
Handler = Callable[["FakeSlack", dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request the app made: a Web API method, or a POST to a response URL."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    path: str

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def blocks(self) -> list[dict[str, Any]]:
        view = self.params.get("view")
        return list((view if isinstance(view, dict) else self.params).get("blocks") or [])

    @property
    def text(self) -> str:
        """Every human-readable string in the call (message text and blocks), for assertions."""
        return "\n".join(_strings({"text": self.params.get("text", ""), "blocks": self.blocks}))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@dataclass
class FakeUser:
    id: str
    name: str = "someone"
    locale: str = "en-US"
    tz: str = "UTC"
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_bot: bool = False
    team_id: str | None = None  # their home workspace: another organisation's, or another of the grid's
    enterprise_id: str | None = None  # their Enterprise Grid organisation (users.info's enterprise_user)
    deleted: bool = False  # a deactivated account


@dataclass
class _Fault:
    error: str | None = None
    status: int | None = None
    retry_after: int | None = None
    hold: threading.Event | None = None
    seconds: float = 0.0


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, deque[_Fault]] = field(default_factory=lambda: defaultdict(deque))
    users: dict[str, FakeUser] = field(default_factory=dict)
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[threading.Event] = field(default_factory=list)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    socket_mode_url: Callable[[], str] | None = None
    executions: dict[str, str] = field(default_factory=dict)  # function_execution_id → state
    step_ends: dict[str, dict[str, Any]] = field(default_factory=dict)  # the call that ended each step


class _LoggingServer(ThreadingHTTPServer):
    """Connection errors go to the log, not to stderr, where they landed among pytest's dots."""

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client that gave up (a timeout drill, a reset under a thousand deliveries): the client
        # sees the failure and retries; here it is only worth a line in the test's log.
        log.info("fake Slack: a connection from %s failed", client_address, exc_info=True)


class FakeSlack:
    """``with FakeSlack() as slack:`` serves on 127.0.0.1 at a free port until the block ends."""

    TEAM_ID = "T0FAKE"
    BOT_USER_ID = "UCRMBOT"

    def __init__(
        self,
        *,
        token: str = "xoxb-fake-token",
        app_token: str = "xapp-fake-app-token",
        enterprise_id: str | None = None,
        invent_users: bool = True,
    ) -> None:
        """``enterprise_id``: the workspace belongs to that Enterprise Grid organisation (auth.test says
        so, and its own people carry it). ``invent_users``: users.info answers for any id as someone
        of the workspace; False answers ``user_not_found`` for ids never added, as Slack does."""
        self.token = token
        self.app_token = app_token
        self.enterprise_id = enterprise_id
        self.invent_users = invent_users
        self._state = _State()
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._server = _LoggingServer(("127.0.0.1", 0), _make_request_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release_holds()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        """What ``SLACK_API_URL`` should be set to."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}api/"

    def response_url(self, response_id: str) -> str:
        return f"{self.base_url}response/{response_id}"

    # -- configuration ---------------------------------------------------------------------------

    def add_user(self, user_id: str, **attributes: Any) -> FakeUser:
        user = FakeUser(id=user_id, **attributes)
        with self._changed:
            self._state.users[user_id] = user
        return user

    def add_thread(self, channel: str, thread_ts: str, messages: list[dict[str, Any]]) -> None:
        """Messages ``conversations.replies`` returns for this thread (the parent first)."""
        with self._changed:
            self._state.threads[(channel, thread_ts)] = [{"ts": thread_ts, **messages[0]}, *messages[1:]]

    def run_function(self, execution_id: str) -> str:
        """A workflow step Slack is about to run: the token (``xwfp-``) its event carries, valid until
        the step is completed, as Slack's workflow tokens are."""
        with self._changed:
            self._state.executions[execution_id] = RUNNING
        return self._function_token(execution_id)

    @staticmethod
    def _function_token(execution_id: str) -> str:
        return f"xwfp-{execution_id}"

    def _running_function_token(self, presented: str) -> bool:
        with self._changed:
            return any(
                presented == self._function_token(fx) and state == RUNNING
                for fx, state in self._state.executions.items()
            )

    def _end_function(self, call_params: dict[str, Any], state: str) -> dict[str, Any]:
        execution_id = str(call_params.get("function_execution_id", ""))
        with self._changed:
            known = self._state.executions.get(execution_id)
            if known is None:
                return {"ok": False, "error": "function_execution_not_found"}
            if known != RUNNING:
                return {"ok": False, "error": "execution_not_in_running_state"}
            self._state.executions[execution_id] = state
            self._state.step_ends[execution_id] = dict(call_params)
        return {"ok": True}

    def step_state(self, execution_id: str) -> str | None:
        """``running``, ``completed`` or ``failed``; None for a step never run."""
        with self._changed:
            return self._state.executions.get(execution_id)

    def step_ended_with(self, execution_id: str) -> dict[str, Any] | None:
        """The parameters of the call that ended the step (its ``outputs`` or its ``error``)."""
        with self._changed:
            return self._state.step_ends.get(execution_id)

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an API error or an HTTP error status."""
        self._add_faults(method, times, lambda: _Fault(error=error, status=status, retry_after=retry_after))

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        self._add_faults(method, times, lambda: _Fault(seconds=seconds))

    def hold_next(self, method: str, *, times: int = 1) -> threading.Event:
        """Keep the next calls of ``method`` waiting until the returned event is set."""
        gate = threading.Event()
        with self._changed:
            self._state.gates.append(gate)
        self._add_faults(method, times, lambda: _Fault(hold=gate))
        return gate

    def faults_left(self, method: str) -> int:
        """Faults set for ``method`` that no call has met yet: 0 once a held call has arrived."""
        with self._changed:
            return len(self._state.faults.get(method) or ())

    def release_holds(self) -> None:
        """Let every held call go on, so nothing waits on the fake forever."""
        with self._changed:
            for gate in self._state.gates:
                gate.set()

    def serve_socket_mode(self, issue_url: Callable[[], str]) -> None:
        """Answer ``apps.connections.open`` with a fresh WebSocket URL from ``issue_url`` each time."""
        with self._changed:
            self._state.socket_mode_url = issue_url

    def _add_faults(self, method: str, times: int, make: Callable[[], _Fault]) -> None:
        with self._changed:
            self._state.faults[method].extend(make() for _ in range(times))

    # -- inspection ------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._changed:
            return list(self._state.calls)

    def calls_to(self, method: str, **params: Any) -> list[Call]:
        """Recorded calls of ``method`` (whatever the fake answered) whose params include ``params``."""
        return [
            c
            for c in self.calls
            if c.method == method and all(c.params.get(k) == v for k, v in params.items())
        ]

    def delivered(self, method: str, **params: Any) -> list[Call]:
        """Calls of ``method`` the fake answered with success: what a user would actually see."""
        return [c for c in self.calls_to(method, **params) if c.ok]

    def replies(self, response_id: str) -> list[Call]:
        return [c for c in self.delivered(RESPONSE_URL) if c.path == f"/response/{response_id}"]

    def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] = lambda call: True,
    ) -> list[Call]:
        """Block until ``count`` successful matching calls were made; fail naming what was seen."""

        def matching() -> list[Call]:
            return [c for c in self._state.calls if c.method == method and c.ok and where(c)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [(c.method, c.status) for c in self._state.calls]
                raise AssertionError(
                    f"expected {count} successful {method} call(s) in {timeout}s; saw {seen}"
                )
            return matching()

    def wait_for_reply(self, response_id: str, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        path = f"/response/{response_id}"
        return self.wait_for(RESPONSE_URL, count=count, timeout=timeout, where=lambda c: c.path == path)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._changed:
            return self._state.home_views.get(user_id)

    # -- serving ---------------------------------------------------------------------------------

    def _next_fault(self, method: str) -> _Fault | None:
        with self._changed:
            faults = self._state.faults.get(method)
            return faults.popleft() if faults else None

    def _record(self, call: Call) -> None:
        with self._changed:
            self._state.calls.append(call)
            self._changed.notify_all()

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _user(self, user_id: str) -> FakeUser | None:
        with self._changed:
            known = self._state.users.get(user_id)
        return known or (FakeUser(id=user_id) if self.invent_users else None)

    def _thread_messages(self, channel: str, ts: str) -> list[dict[str, Any]] | None:
        with self._changed:
            return self._state.threads.get((channel, ts))

    def _reply_in_a_thread(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._changed:
            for (in_channel, parent), messages in self._state.threads.items():
                for message in messages[1:]:
                    if in_channel == channel and message.get("ts") == ts:
                        return {"thread_ts": parent, **message}
        return None

    def _remember_message(self, channel: str, message: dict[str, Any]) -> None:
        with self._changed:
            self._state.history[channel].append(message)

    def _forget_message(self, channel: str, ts: str) -> bool:
        """Remove the message ``ts`` from ``channel``'s history; False when there was none."""
        with self._changed:
            history = self._state.history.get(channel, [])
            kept = [m for m in history if m["ts"] != ts]
            self._state.history[channel] = kept
            return len(kept) < len(history)

    def channel_history(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted to ``channel`` (successfully), oldest first."""
        with self._changed:
            return list(self._state.history.get(channel, ()))

    def _socket_mode_url(self) -> str | None:
        with self._changed:
            issue_url = self._state.socket_mode_url
        return issue_url() if issue_url else None

    def _publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        with self._changed:
            self._state.home_views[user_id] = view

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The JSON body Slack would answer a successful-path call of ``method`` with."""
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, params)


def _make_request_handler(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            """Silenced: the recorded calls are the log."""

        def _handle(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith(UPLOAD_PATH):
                self._receive_upload(path)
                return
            params = _parse_params(self)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if path.startswith("/response/"):
                method = RESPONSE_URL
            elif path.startswith("/api/"):
                method = path.removeprefix("/api/")
            else:
                self._send(404, {"ok": False, "error": "not_found"})
                return
            status, body, extra = self._outcome(method, params, headers)
            slack._record(Call(method=method, params=params, headers=headers, status=status, path=path))
            self._send(status, body, extra)

        def _receive_upload(self, path: str) -> None:
            """The file bytes of files_upload_v2, sent to the URL files.getUploadURLExternal gave."""
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            size, fault = len(data), slack._next_fault(UPLOAD)
            status = fault.status if fault is not None and fault.status is not None else 200
            slack._record(
                Call(
                    method=UPLOAD,
                    params={"size": size, "content": data},
                    headers={},
                    status=status,
                    path=path,
                )
            )
            self._send(status, f"OK - {size}" if status == 200 else "upload refused")

        def _outcome(
            self, method: str, params: dict[str, Any], headers: dict[str, str]
        ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
            fault = slack._next_fault(method)
            if fault is not None:
                if fault.hold is not None:
                    fault.hold.wait()
                time.sleep(fault.seconds)
                if fault.status is not None:
                    extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                    return fault.status, {"ok": False, "error": "ratelimited"}, extra
                if fault.error is not None:
                    return 200, {"ok": False, "error": fault.error}, {}
            if method == RESPONSE_URL:
                problems = block_problems(params.get("blocks") or [], max_blocks=MAX_MESSAGE_BLOCKS)
                return (400, "invalid_blocks", {}) if problems else (200, "ok", {})
            refused = _auth_error(slack, method, params, headers)
            if refused:
                return 200, {"ok": False, "error": refused}, {}
            return 200, slack.answer(method, params), {}

        def _send(self, status: int, body: dict[str, Any] | str, extra: dict[str, str] | None = None) -> None:
            is_json = isinstance(body, dict)
            data = (json.dumps(body) if is_json else str(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8" if is_json else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return RequestHandler


def _auth_error(slack: FakeSlack, method: str, params: dict[str, Any], headers: dict[str, str]) -> str | None:
    """Slack's error for a call with the wrong token; app-level methods want the ``xapp-`` token."""

    def presents(token: str) -> bool:
        return headers.get("authorization") == f"Bearer {token}" or params.get("token") == token

    expected, other = (
        (slack.app_token, slack.token) if method in APP_TOKEN_METHODS else (slack.token, slack.app_token)
    )
    if presents(expected):
        return None
    token = headers.get("authorization", "").removeprefix("Bearer ") or str(params.get("token", ""))
    if method not in APP_TOKEN_METHODS and slack._running_function_token(token):
        return None
    return "not_allowed_token_type" if presents(other) else "invalid_auth"


def _parse_params(request: BaseHTTPRequestHandler) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(urlsplit(request.path).query))
    length = int(request.headers.get("Content-Length") or 0)
    raw = request.rfile.read(length).decode() if length else ""
    if "json" in (request.headers.get("Content-Type") or ""):
        params.update(json.loads(raw or "{}"))
    else:
        params.update(parse_qsl(raw))
    for name in JSON_FIELDS:
        if isinstance(params.get(name), str):
            params[name] = json.loads(params[name])
    return params


def _message_answer(slack: FakeSlack, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    if not params.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    problems = block_problems(params.get("blocks") or [], max_blocks=MAX_MESSAGE_BLOCKS)
    if problems:
        return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": problems}}
    return {"ok": True, "channel": params["channel"], **fields}


def _post_message(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    ts = slack._next_ts()
    message = {
        "type": "message",
        "ts": ts,
        "text": params.get("text", ""),
        "blocks": params.get("blocks", []),
    }
    if params.get("metadata"):
        message["metadata"] = params["metadata"]
    answer = _message_answer(slack, params, ts=ts, message=message)
    if answer["ok"]:
        slack._remember_message(str(params["channel"]), message)
    return answer


def _conversations_open(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """A direct-message channel per user, named after them, as stable as Slack's own."""
    users = str(params.get("users", ""))
    if not users or "," in users:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "channel": {"id": f"D{users}"}}


def _conversations_history(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """Newest first, like Slack; message metadata only when ``include_all_metadata`` is asked for."""
    oldest = float(params.get("oldest") or 0)
    with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
    messages = [
        m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
        for m in reversed(slack.channel_history(str(params.get("channel"))))
        if float(m["ts"]) > oldest
    ]
    return {"ok": True, "messages": messages[: int(params.get("limit") or 100)], "has_more": False}


def _post_ephemeral(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("user"):
        return {"ok": False, "error": "user_not_in_channel"}
    return _message_answer(slack, params, message_ts=slack._next_ts())


def _update(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return _message_answer(slack, params, ts=params.get("ts"), text=params.get("text", ""))


def _delete(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """Slack's ``chat.delete`` of a message the app posted: gone from the history, or message_not_found."""
    channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    if not slack._forget_message(channel, ts):
        return {"ok": False, "error": "message_not_found"}
    return {"ok": True, "channel": channel, "ts": ts}


def _view_answer(slack: FakeSlack, params: dict[str, Any], **required: Any) -> dict[str, Any]:
    missing = [name for name, value in required.items() if not value]
    if missing:
        return {"ok": False, "error": f"invalid_{missing[0]}"}
    view = params.get("view") or {}
    problems = block_problems(view.get("blocks") or [], max_blocks=MAX_VIEW_BLOCKS)
    if problems:
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
    view_id = params.get("view_id") or f"V{slack._next_ts().replace('.', '')}"
    return {"ok": True, "view": {**view, "id": view_id, "team_id": slack.TEAM_ID, "hash": slack._next_ts()}}


def _views_open(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return _view_answer(slack, params, trigger_id=params.get("trigger_id"))


def _views_update(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return _view_answer(slack, params, view_id=params.get("view_id") or params.get("external_id"))


def _views_publish(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    answer = _view_answer(slack, params, user_id=params.get("user_id"))
    if answer["ok"]:
        slack._publish_home(params["user_id"], answer["view"])
    return answer


def _users_info(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    user = slack._user(str(params.get("user", "")))
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    info: dict[str, Any] = {
        "id": user.id,
        "team_id": user.team_id or slack.TEAM_ID,
        "deleted": user.deleted,
        "name": user.name,
        "real_name": user.name,
        "tz": user.tz,
        "is_restricted": user.is_restricted,
        "is_ultra_restricted": user.is_ultra_restricted,
        "is_bot": user.is_bot,
        "profile": {"real_name": user.name, "display_name": user.name},
    }
    if str(params.get("include_locale")).lower() in ("1", "true"):
        info["locale"] = user.locale
    enterprise_id = user.enterprise_id or (None if user.team_id else slack.enterprise_id)
    if enterprise_id:
        home = user.team_id or slack.TEAM_ID
        info["enterprise_user"] = {"id": user.id, "enterprise_id": enterprise_id, "teams": [home]}
    return {"ok": True, "user": info}


def _conversations_replies(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """A thread by its parent's ts; by a reply's ts, that reply alone (with its ``thread_ts``)."""
    channel, ts = str(params.get("channel")), str(params.get("ts"))
    messages = slack._thread_messages(channel, ts)
    if messages is None:
        reply = slack._reply_in_a_thread(channel, ts)
        if reply is None:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": [reply], "has_more": False}
    if len(messages) > 1:  # Slack marks every message of a thread with the parent's ts
        messages = [{"thread_ts": ts, **m} for m in messages]
    limit = int(params.get("limit") or 1000)
    return {"ok": True, "messages": messages[:limit], "has_more": len(messages) > limit}


def _get_permalink(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel, ts = params.get("channel"), str(params.get("message_ts", ""))
    if not channel or not ts:
        return {"ok": False, "error": "message_not_found"}
    return {
        "ok": True,
        "channel": channel,
        "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}",
    }


def _get_upload_url(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("filename") or not str(params.get("length", "")).isdigit():
        return {"ok": False, "error": "invalid_arguments"}
    file_id = f"F{slack._next_ts().replace('.', '')}"
    return {
        "ok": True,
        "upload_url": f"{slack.base_url.rstrip('/')}{UPLOAD_PATH}{file_id}",
        "file_id": file_id,
    }


def _complete_upload(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    files = params.get("files") or []
    if not files:
        return {"ok": False, "error": "invalid_arguments"}
    return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}


def _complete_success(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(params.get("outputs"), dict):
        return {"ok": False, "error": "invalid_arguments"}
    return slack._end_function(params, "completed")


def _complete_error(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("error"):
        return {"ok": False, "error": "invalid_arguments"}
    return slack._end_function(params, "failed")


def _auth_test(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": WORKSPACE_URL,
        "team": "Fake Workspace",
        "user": "crm",
        "team_id": slack.TEAM_ID,
        "user_id": slack.BOT_USER_ID,
        "bot_id": "B0FAKE",
        "is_enterprise_install": False,
        **({"enterprise_id": slack.enterprise_id} if slack.enterprise_id else {}),
    }


def _apps_connections_open(slack: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """A one-use WebSocket URL, as Slack issues one per connection (refreshes call this again)."""
    url = slack._socket_mode_url()
    if url is None:  # the fake's own error: nothing is listening for Socket Mode connections
        return {"ok": False, "error": "socket_mode_not_served"}
    return {"ok": True, "url": url}


_METHODS: dict[str, Handler] = {
    "apps.connections.open": _apps_connections_open,
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "chat.update": _update,
    "chat.delete": _delete,
    "chat.getPermalink": _get_permalink,
    "views.open": _views_open,
    "views.update": _views_update,
    "views.publish": _views_publish,
    "users.info": _users_info,
    "conversations.replies": _conversations_replies,
    "conversations.open": _conversations_open,
    "conversations.history": _conversations_history,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
    "functions.completeSuccess": _complete_success,
    "functions.completeError": _complete_error,
}
