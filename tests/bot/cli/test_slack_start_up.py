"""`crm-bot serve` and `run` say what is wrong when Slack refuses a token or cannot be reached.

A first deployment meets these two before anything else; each ends with one line naming the
variable or the address and what to do, exit 2, and never the token itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.console.fake_web_api import FakeSlack
from tests.bot.cli.test_slack import SECRET, TOKEN, free_port
from tests.conftest import CliResult

Crm = Callable[..., CliResult]
WRONG_TOKEN = "xoxb-revoked-or-mistyped"
APP_TOKEN = "xapp-1-cli-test"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, app_token=APP_TOKEN) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        yield fake


@pytest.mark.parametrize("args", [("serve", "--port", "0"), ("run", "--port", "0")])
def test_a_bot_token_slack_rejects_is_named_with_what_to_do(
    crm: Crm, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", WRONG_TOKEN)
    result = crm(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("crm-bot: Slack rejected SLACK_BOT_TOKEN (invalid_auth): ")
    assert "OAuth & Permissions" in result.stderr
    assert WRONG_TOKEN not in result.stderr + result.stdout
    assert [call.method for call in slack.calls] == ["auth.test"]


def test_an_unreachable_slack_names_the_address_and_the_variable(
    crm: Crm, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    monkeypatch.setenv("SLACK_API_URL", closed)
    result = crm("serve", "--port", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: cannot reach Slack at {closed}")
    assert result.stderr.rstrip().endswith("check the network or SLACK_API_URL")
    assert len(result.stderr.strip().splitlines()) == 1
    assert TOKEN not in result.stderr


def test_an_address_that_is_not_slacks_web_api_is_named(
    crm: Crm, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = f"{slack.base_url}slack/api/"  # a server, but not the Web API: it answers 404
    monkeypatch.setenv("SLACK_API_URL", wrong)
    result = crm("serve", "--port", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: {wrong} answered HTTP 404, not as Slack's Web API does: ")
    assert "check SLACK_API_URL" in result.stderr


@pytest.mark.parametrize(
    ("app_token", "error"),
    [("xapp-1-mistyped", "invalid_auth"), (TOKEN, "not_allowed_token_type")],
)
def test_an_app_level_token_slack_rejects_stops_socket_mode(
    crm: Crm, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, app_token: str, error: str
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", app_token)
    result = crm("run")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: Slack rejected SLACK_APP_TOKEN ({error}): ")
    assert "App-Level Tokens" in result.stderr
    assert app_token not in result.stderr + result.stdout
    assert [call.method for call in slack.calls] == ["auth.test", "apps.connections.open"]
