"""`crm-bot serve` and `crm-bot run`: refuse to start without their secrets; serve for real with them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import CHANNEL
from bot.ids import ActionId, CallbackId
from bot.transport.worker_processes import WORKER_NICENESS
from crm_core.store import transaction
from tests.bot.harness import SlackSender, elements, opened_view
from tests.conftest import CliResult
from tests.factories import customer

pytestmark = pytest.mark.end_to_end  # starts crm-bot processes or a Socket Mode server

Crm = Callable[..., CliResult]
TOKEN = "xoxb-cli-test"
SECRET = "cli-test-signing-secret"
THREAD = "1772496000.000100"


@pytest.fixture
def no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("args", "env", "missing"),
    [
        (("serve", "--port", "0"), {"SLACK_BOT_TOKEN": TOKEN}, "SLACK_SIGNING_SECRET"),
        (("run",), {"SLACK_SIGNING_SECRET": SECRET}, "SLACK_BOT_TOKEN"),
        (("run",), {"SLACK_BOT_TOKEN": TOKEN}, "SLACK_SIGNING_SECRET"),
    ],
)
def test_a_missing_secret_stops_start_up_naming_the_variable(
    crm: Crm,
    no_slack_env: None,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    missing: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = crm(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: {missing} is not set")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError(f"crm-bot serve did not answer {url}/healthz within {timeout}s")


@contextmanager
def serving(database_url: str, *options: str) -> Iterator[tuple[str, FakeSlack, subprocess.Popen[bytes]]]:
    """``crm-bot serve`` in its own process, talking to a fake Slack."""
    with FakeSlack(token=TOKEN) as slack:
        url, process = start_serve(database_url, slack, *options, stderr=subprocess.PIPE)
        try:
            wait_until_healthy(url, process)
            yield url, slack, process
        finally:
            process.terminate()
            process.wait(timeout=10)


def start_serve(
    database_url: str, slack: FakeSlack, *options: str, **popen: Any
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``crm-bot serve OPTIONS`` on a free port of 127.0.0.1; its URL and its process."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    env.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--port", str(port), *options], env=env, **popen)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture
def served(engine: Engine, database_url: str) -> Iterator[tuple[str, FakeSlack]]:
    with serving(database_url) as (url, slack, _):
        yield url, slack


def test_serve_answers_signed_slack_requests(served: tuple[str, FakeSlack]) -> None:
    url, slack = served
    sender = SlackSender(url, SECRET, slack)
    sent = sender.command("help")
    assert sent.answer.status == 200
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "How to use /crm" in reply.text
    assert sender.command("help", signature="v0=forged").answer.status == 401


def worker_pids(server: subprocess.Popen[bytes]) -> set[int]:
    """The server's child processes that run at the workers' lower priority (not spawn's helpers)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # After the command name: state, ppid, … nice is the 19th field of the line, 17th after it.
        if int(fields[1]) == server.pid and int(fields[16]) == WORKER_NICENESS:
            pids.add(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from Linux's /proc")
def test_serve_with_workers_answers_from_worker_processes_and_replaces_a_dead_one(
    engine: Engine, database_url: str
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.", email="buyer@acme.example")
    with serving(database_url, "--workers", "2") as (url, slack, server):
        workers = worker_pids(server)
        assert len(workers) == 2
        sender = SlackSender(url, SECRET, slack)
        sent = sender.command("find acme")
        assert sent.answer.status == 200
        [card] = slack.wait_for_reply(sent.response_id)
        assert "Acme Inc." in card.text and "buyer@acme.example" in str(card.params["blocks"])

        killed = workers.pop()
        os.kill(killed, signal.SIGKILL)
        # The server starts a new worker in its place; requests sent while it had not noticed (each
        # worker has its turn: two are sure to reach the dead one's pipe) go to the others.
        sent = [sender.command("help") for _ in range(4)]
        assert all(one.answer.status == 200 for one in sent)
        for one in sent:
            [answer] = slack.wait_for_reply(one.response_id, timeout=30)
            assert "How to use /crm" in answer.text
        replacements = worker_pids(server)
        # The one left alive was left alone (its running handlers with it).
        assert len(replacements) == 2 and killed not in replacements and workers <= replacements
    # Stopping the server ends its workers too: none is left behind holding database connections.
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in replacements) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in replacements if Path(f"/proc/{pid}").exists()]


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from Linux's /proc")
def test_requests_a_worker_had_not_read_when_it_died_go_to_another(engine: Engine, database_url: str) -> None:
    with serving(database_url, "--workers", "2") as (url, slack, server):
        stuck = min(worker_pids(server))
        os.kill(stuck, signal.SIGSTOP)  # alive, reading nothing: its turns pile up in its pipe
        deadline = time.monotonic() + 10
        while _state(stuck) != "T" and time.monotonic() < deadline:  # stopped before anything is sent
            time.sleep(0.01)
        try:
            sender = SlackSender(url, SECRET, slack)
            sent = [sender.command("help") for _ in range(6)]
            assert all(one.answer.status == 200 for one in sent)
        finally:
            os.kill(stuck, signal.SIGKILL)
        for one in sent:
            [answer] = slack.wait_for_reply(one.response_id, timeout=30)
            assert "How to use /crm" in answer.text


def test_with_workers_every_kind_of_request_is_answered_after_its_ack(
    engine: Engine, database_url: str
) -> None:
    """Commands, buttons, message shortcuts and events: each acked, then handed to a worker."""
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    with serving(database_url, "--workers", "2") as (url, slack, _):
        sender = SlackSender(url, SECRET, slack)
        sent = sender.command("find acme")
        assert (sent.answer.status, sent.answer.body) == (200, "")
        [card] = slack.wait_for_reply(sent.response_id, timeout=30)
        [log_button] = [
            e for e in elements(card.params["blocks"]) if e.get("action_id") == ActionId.LOG_INTERACTION
        ]
        assert sender.click(log_button).answer.status == 200
        slack.wait_for("views.open", timeout=30)
        assert opened_view(slack)["callback_id"] == CallbackId.LOG_INTERACTION

        slack.add_thread(CHANNEL, THREAD, [{"user": "U0BUYER", "text": "Acme Inc.: order #42 is late"}])
        assert sender.shortcut(CallbackId.LOG_MESSAGE, {"ts": THREAD, "text": "x"}).answer.status == 200
        slack.wait_for("views.open", count=2, timeout=30)
        assert opened_view(slack, count=2)["private_metadata"]

        assert sender.open_home(user="U0SALES").status == 200
        slack.wait_for("views.publish", timeout=30)
        home = slack.home_view("U0SALES")
        assert home is not None and home["type"] == "home"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from Linux's /proc")
def test_workers_told_to_stop_finish_the_requests_they_are_running(engine: Engine, database_url: str) -> None:
    with serving(database_url, "--workers", "2") as (url, slack, server):
        sender = SlackSender(url, SECRET, slack)
        held = slack.hold_next("users.info")
        sent = sender.command("help")
        deadline = time.monotonic() + 30
        while slack.faults_left("users.info") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slack.faults_left("users.info") == 0, "the request never reached a worker"
        # As systemd stops a whole service, or the pool stops the others when one worker died.
        for pid in worker_pids(server):
            os.kill(pid, signal.SIGTERM)
        held.set()
        [answer] = slack.wait_for_reply(sent.response_id, timeout=30)
        assert "How to use /crm" in answer.text
        # The stopped pool is replaced: the server goes on answering.
        again = sender.command("help")
        assert len(slack.wait_for_reply(again.response_id, timeout=30)) == 1
