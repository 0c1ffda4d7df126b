"""The load generator of ``bench/answers.py`` in a process of its own: asyncio clients and replies.

On a 2-core machine the load generator shares the cores with the server it measures. The first
harness ran 16 client threads (urllib, signing, form encoding) and three thread-per-connection fake
Slacks in the benchmark's own process, on one interpreter lock: about as much CPU per find as the
server's own, and a reply's time included the wait for that lock behind the other 15 clients. Here
one process runs an asyncio event loop holding:

- the clients: ``CLIENTS`` tasks in a closed loop. Each command's form body is built before the run
  by ``SlackSender.command`` itself (same fields, escaping, response URL and unique trigger id, as
  Slack sends them), and signed when it is sent, with that second's timestamp, as Slack signs each
  request. Each request goes on a new connection and says ``Connection: close``, as the urllib
  sender of ``SlackSender`` does;
- the response URL receiver: the app posts its replies here (the command's ``response_url``),
  over the connection it keeps alive (``bot.slack_api.web_api``): HTTP/1.1, every answer with its
  Content-Length. A reply is checked as ``FakeSlack`` checks it (``block_problems``: refused with
  400 beyond Block Kit's limits) and its moment is recorded before it is answered, as ``FakeSlack``
  records a call. The Web API (``users.info`` and the like, rare: people are cached) stays on the
  benchmark's ``FakeSlack``, which the server's ``--slack-api-url`` names. With
  ``CRM_BENCH_REPLY_DELAY_MS`` set, each reply is answered that long after it was recorded, as
  Slack's hooks answer after 100-200 ms: a server that waits for the answer on a handler thread
  holds that thread meanwhile, which an instant receiver hides. The reply's time is unchanged.

Times are ``time.perf_counter`` (CLOCK_MONOTONIC on Linux), all taken in this process. The CPU
this process spends over a run (``resource.getrusage``: user + system) is reported with it; bodies
are built before a run starts, outside that window. So is how late the loop ran: a ticker asks to
wake every 5 ms and notes how much later it did; a reply that arrived meanwhile waited about as
long to be timed (the loop's own work, and the wait for a core on a busy machine). The process asks
for a higher scheduling priority (nice -10, where allowed): it spends little CPU, and what it times
should not wait behind the server it measures for a core (on a load of 7, its lag p99 went from
9-18 ms to 3-6 ms).

The benchmark drives it over a pipe (``LoadGenerator``): one JSON job per line on stdin, one JSON
result per line on stdout. ``python -m bench.loadgen`` prints the receiver's base URL first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from bench.stats import percentile
from bot.blocks.limits import MAX_MESSAGE_BLOCKS, block_problems
from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import HttpAnswer, SlackSender, sign

CLIENTS = 16
REPLY_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0  # SlackSender's
BUSY = ":hourglass:"  # the busy ack's text (message key error.busy): nothing kept, no reply to come
_USER_AGENT = f"Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"
_FORM = "application/x-www-form-urlencoded"
TICK_SECONDS = 0.005
PRIORITY = -10  # os.nice increment: above the server it measures, where the user may
REPLY_DELAY_SECONDS = float(os.environ.get("CRM_BENCH_REPLY_DELAY_MS") or 0) / 1000


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the benchmark's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One command of a closed-loop run: seconds until its HTTP answer, and until its reply."""

    ack: float
    reply: float | None


@dataclass(frozen=True)
class ClosedRun:
    timings: list[Timed]
    cpu_seconds: float  # the load generator's, over the run
    unexpected_replies: int  # replies to no command of the run, or a second reply to one
    lag_p99_ms: float  # how late its loop ran (p99): what a reply may have waited to be timed


@dataclass(frozen=True)
class NonstopRun:
    acked: list[tuple[str, str]]  # (response id, text) of the commands kept
    refused: list[tuple[str, str]]  # not acknowledged in time, or answered busy: nothing kept
    elapsed: float  # seconds from the first send to the last reply
    cpu_seconds: float
    unexpected_replies: int
    lag_p99_ms: float


class LoadGenerator:
    """``with LoadGenerator() as load:`` a ``bench.loadgen`` process, driven one run at a time."""

    def __init__(self, signing_secret: str) -> None:
        self.signing_secret = signing_secret
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.receiver_url = str(self._read()["receiver"])

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def closed_loop(
        self, url: str, commands: Sequence[str], users: Sequence[str], *, wait_reply: bool
    ) -> ClosedRun:
        """``CLIENTS`` clients, each sending every ``CLIENTS``-th command once the last is answered
        (acknowledged, and replied to where ``wait_reply``); any answer but HTTP 200 fails the run."""
        found = self._run("closed", url, commands, users, wait_reply=wait_reply)
        return ClosedRun(
            [Timed(ack, reply) for ack, reply in found["timings"]],
            found["cpu_seconds"],
            found["unexpected_replies"],
            _p99(found["lags_ms"]),
        )

    def nonstop(self, url: str, commands: Sequence[str], users: Sequence[str]) -> NonstopRun:
        """``CLIENTS`` clients, each sending its next command as soon as the last is acknowledged;
        then every kept command's reply is awaited."""
        found = self._run("nonstop", url, commands, users, wait_reply=True)
        return NonstopRun(
            [(rid, text) for rid, text in found["acked"]],
            [(rid, text) for rid, text in found["refused"]],
            found["elapsed"],
            found["cpu_seconds"],
            found["unexpected_replies"],
            _p99(found["lags_ms"]),
        )

    def _run(
        self, kind: str, url: str, commands: Sequence[str], users: Sequence[str], *, wait_reply: bool
    ) -> dict[str, Any]:
        assert self._process.stdin is not None
        job = {
            "kind": kind,
            "url": url,
            "secret": self.signing_secret,
            "commands": list(commands),
            "users": list(users),
            "wait": wait_reply,
        }
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        found = self._read()
        if "error" in found:
            raise RuntimeError(f"load generator: {found['error']}")
        return found

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator ended (exit status {self._process.wait()})")
        return cast(dict[str, Any], json.loads(line))


def _p99(values: list[float]) -> float:
    return percentile(values, 99) if values else 0.0


# -- the load generator's process ----------------------------------------------------------------


class Receiver:
    """Response URLs: ``{base}response/{id}``; the moment each reply is recorded, by id."""

    def __init__(self) -> None:
        self.base_url = ""
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self.unexpected = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/"
        return server

    def response_url(self, response_id: str) -> str:
        return f"{self.base_url}response/{response_id}"

    def expect(self, response_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[response_id] = future
        return future

    def forget(self, response_id: str) -> None:
        self._waiting.pop(response_id, None)

    def _record(self, response_id: str, at: float) -> None:
        future = self._waiting.get(response_id)
        if future is None or future.done():
            self.unexpected += 1
        else:
            future.set_result(at)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # HTTP/1.1: the connection stays open for the next reply
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                _method, target, _version = request_line.split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in header_lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, answer = self._answer(urlsplit(target).path, body)
                if REPLY_DELAY_SECONDS:
                    await asyncio.sleep(REPLY_DELAY_SECONDS)
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Refused'}\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            return  # the process ends with the bot's kept connection still open
        finally:
            writer.close()

    def _answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        if not path.startswith("/response/"):
            return 404, b"not_found"  # the Web API is the benchmark's FakeSlack
        message = json.loads(body or b"{}")
        if block_problems(message.get("blocks") or [], max_blocks=MAX_MESSAGE_BLOCKS):
            return 400, b"invalid_blocks"
        self._record(path.removeprefix("/response/"), time.perf_counter())
        return 200, b"ok"


class _BodyOnly(SlackSender):
    """``SlackSender`` building a command's body as Slack sends it, without sending it."""

    def post(self, body: bytes, content_type: str, **_options: Any) -> HttpAnswer:
        assert content_type == _FORM
        self.body = body
        return HttpAnswer(0, "")


@dataclass(frozen=True)
class _Command:
    text: str
    response_id: str
    body: bytes
    secret: str


def _commands(receiver: Receiver, job_number: int, job: dict[str, Any]) -> list[list[_Command]]:
    """Each client's commands, bodies built (response ids unique across the process's runs)."""

    class Urls:
        def response_url(self, response_id: str) -> str:
            return receiver.response_url(f"{job_number}.{response_id}")

    builder = _BodyOnly(job["url"], job["secret"], cast(FakeSlack, Urls()))
    users = job["users"]
    per_client: list[list[_Command]] = []
    for number in range(CLIENTS):
        mine = []
        for text in job["commands"][number::CLIENTS]:
            sent = builder.command(text, user=users[number % len(users)])
            mine.append(_Command(text, f"{job_number}.{sent.response_id}", builder.body, job["secret"]))
        per_client.append(mine)
    return per_client


async def post_signed(host: str, port: int, body: bytes, secret: str) -> tuple[int, str]:
    """POST a form body to /slack/events on a new connection, signed now, as urllib sends it."""
    stamp = str(int(time.time()))
    head = (
        f"POST /slack/events HTTP/1.1\r\nAccept-Encoding: identity\r\nHost: {host}:{port}\r\n"
        f"User-Agent: {_USER_AGENT}\r\nContent-Type: {_FORM}\r\n"
        f"X-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: {sign(secret, stamp, body)}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() + body)
        answer = await reader.read()  # to the end: the server closes after its answer
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _headers, _, content = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), content.decode("utf-8", "replace")


async def _together(clients: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the clients at once; the first to fail stops the others and its error is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            for client in clients:
                group.create_task(client)
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None


async def _closed(
    receiver: Receiver, url: str, per_client: list[list[_Command]], wait: bool
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    timings: list[tuple[float, float | None]] = []

    async def client(commands: list[_Command]) -> None:
        for command in commands:
            replied = receiver.expect(command.response_id) if wait else None
            began = time.perf_counter()
            status, answer = await asyncio.wait_for(
                post_signed(host, port, command.body, command.secret), REQUEST_TIMEOUT_SECONDS
            )
            acked = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"{command.text!r} answered HTTP {status}: {answer[:200]}")
            if replied is None:
                timings.append((acked - began, None))
                continue
            try:
                at = await asyncio.wait_for(replied, REPLY_TIMEOUT_SECONDS)
            except TimeoutError:
                raise RuntimeError(
                    f"no reply to {command.response_id} within {REPLY_TIMEOUT_SECONDS:.0f} s"
                ) from None
            finally:
                receiver.forget(command.response_id)
            timings.append((acked - began, at - began))

    await _together(client(commands) for commands in per_client)
    return {"timings": timings}


async def _nonstop(receiver: Receiver, url: str, per_client: list[list[_Command]]) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    acked: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    replies: list[tuple[str, asyncio.Future[float]]] = []

    async def client(commands: list[_Command]) -> None:
        for command in commands:
            replied = receiver.expect(command.response_id)
            status, answer = await asyncio.wait_for(
                post_signed(host, port, command.body, command.secret), REQUEST_TIMEOUT_SECONDS
            )
            # Refused: not acknowledged in time (Bolt answers 404 past its 3 s), or acknowledged
            # with "busy" (the inbox's backlog bound: nothing kept, no reply to come).
            if status == 200 and BUSY not in answer:
                acked.append((command.response_id, command.text))
                replies.append((command.response_id, replied))
            else:
                refused.append((command.response_id, command.text))
                receiver.forget(command.response_id)

    began = time.perf_counter()
    await _together(client(commands) for commands in per_client)
    last = began
    for response_id, replied in replies:
        try:
            at = await asyncio.wait_for(replied, REPLY_TIMEOUT_SECONDS)
        except TimeoutError:
            raise RuntimeError(f"no reply to {response_id} within {REPLY_TIMEOUT_SECONDS:.0f} s") from None
        finally:
            receiver.forget(response_id)
        last = max(last, at)
    return {"acked": acked, "refused": refused, "elapsed": last - began}


async def _note_lag(lags: list[float], stop: asyncio.Event) -> None:
    """Ask to wake every ``TICK_SECONDS`` until ``stop``; note how many ms late each wake was."""
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(TICK_SECONDS)
        lags.append(round((time.perf_counter() - asked - TICK_SECONDS) * 1000, 3))


async def _serve_jobs() -> None:
    receiver = Receiver()
    server = await receiver.start()
    print(json.dumps({"receiver": receiver.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    job_number = 0
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        job = json.loads(line)
        job_number += 1
        per_client = _commands(receiver, job_number, job)
        unexpected, cpu = receiver.unexpected, cpu_seconds()
        lags: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_note_lag(lags, stop))
        try:
            if job["kind"] == "closed":
                found = await _closed(receiver, job["url"], per_client, job["wait"])
            else:
                found = await _nonstop(receiver, job["url"], per_client)
        except Exception as error:  # reported to the benchmark, which fails the run
            found = {"error": f"{type(error).__name__}: {error}"}
        stop.set()
        await ticker
        found |= {
            "cpu_seconds": cpu_seconds() - cpu,
            "unexpected_replies": receiver.unexpected - unexpected,
            "lags_ms": lags,
        }
        print(json.dumps(found), flush=True)
    server.close()


if __name__ == "__main__":
    with contextlib.suppress(PermissionError):  # an unprivileged user keeps the default priority
        os.nice(PRIORITY)
    asyncio.run(_serve_jobs())
