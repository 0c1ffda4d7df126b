"""`crm-bot serve` and `crm-bot run`: refuse to start without their secrets; serve for real with them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from bot.fake_slack import FakeSlack
from tests.bot.harness import SlackSender
from tests.conftest import CliResult

Crm = Callable[..., CliResult]
TOKEN = "xoxb-cli-test"
SECRET = "cli-test-signing-secret"


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


@pytest.fixture
def served(engine: Engine, database_url: str) -> Iterator[tuple[str, FakeSlack]]:
    """``crm-bot serve`` in its own process, talking to a fake Slack."""
    with FakeSlack(token=TOKEN) as slack:
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
        process = subprocess.Popen([*command, "--port", str(port)], env=env, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process)
            yield url, slack
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_serve_answers_signed_slack_requests(served: tuple[str, FakeSlack]) -> None:
    url, slack = served
    sender = SlackSender(url, SECRET, slack)
    sent = sender.command("help")
    assert sent.answer.status == 200
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "How to use /crm" in reply.text
    assert sender.command("help", signature="v0=forged").answer.status == 401
