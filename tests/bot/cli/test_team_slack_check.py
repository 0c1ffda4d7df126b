"""`crm-bot team set-role|add` ask Slack who the id is before giving a role (issue 10, item 7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.console.fake_web_api import FakeSlack
from tests.conftest import CliResult

Crm = Callable[..., CliResult]
TOKEN = "xoxb-team-check"
GRID = "E0GRID"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """A workspace of an Enterprise Grid where users.info knows only the people added here."""
    with FakeSlack(token=TOKEN, enterprise_id=GRID, invent_users=False) as fake:
        fake.add_user("U0REP")
        fake.add_user("U0COLLEAGUE", team_id="T0OTHERWS", enterprise_id=GRID)  # home: another grid workspace
        fake.add_user("U0GONE", deleted=True)
        fake.add_user("U0ROBOT", is_bot=True)
        fake.add_user("U0GUEST", is_restricted=True)
        fake.add_user("U0SINGLE", is_ultra_restricted=True)
        fake.add_user("U0PARTNER", team_id="T0PARTNER")  # Slack Connect, an organisation without a grid
        fake.add_user("U0OTHERGRID", team_id="T0THEIRS", enterprise_id="E0THEIRS")
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        yield fake


def members(crm: Crm) -> list[str]:
    return [line.split("\t")[0] for line in crm("team", "list").stdout.splitlines() if line.startswith("U")]


@pytest.mark.parametrize(
    ("user_id", "said"),
    [
        ("U0NOPE", "Slack has no user U0NOPE: check the id"),
        ("U0GONE", "U0GONE is a deactivated Slack account; no role was given"),
        ("U0ROBOT", "U0ROBOT is a bot, not a person; no role was given"),
        ("USLACKBOT", "USLACKBOT is a bot, not a person; no role was given"),
        ("U0GUEST", "U0GUEST is a guest of the workspace, and guests cannot use crm-bot"),
        ("U0SINGLE", "U0SINGLE is a guest of the workspace, and guests cannot use crm-bot"),
        ("U0PARTNER", "U0PARTNER belongs to another organisation"),
        ("U0OTHERGRID", "U0OTHERGRID belongs to another organisation"),
    ],
)
@pytest.mark.parametrize("command", [("set-role", "{user}", "admin"), ("add", "{user}", "--role", "admin")])
def test_no_role_for_an_id_slack_does_not_know_as_a_member(
    crm: Crm, slack: FakeSlack, user_id: str, said: str, command: tuple[str, ...]
) -> None:
    if user_id == "USLACKBOT":
        slack.add_user("USLACKBOT", name="slackbot")  # users.info says is_bot: false for Slackbot
    result = crm("team", *(part.format(user=user_id) for part in command))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"crm-bot: {said}") and result.stderr.count("\n") == 1
    assert members(crm) == []
    assert [c.params["user"] for c in slack.calls_to("users.info")] == [user_id]


def test_a_member_and_a_grid_colleague_get_their_roles(crm: Crm, slack: FakeSlack) -> None:
    assert crm("team", "set-role", "U0REP", "admin").stdout.strip() == "U0REP is admin (new to the team)"
    added = crm("team", "add", "U0COLLEAGUE", "--role", "manager")
    assert added.exit_code == 0 and added.stderr == ""
    assert members(crm) == ["U0COLLEAGUE", "U0REP"]


def test_offline_gives_the_role_without_asking_and_says_so(crm: Crm, slack: FakeSlack) -> None:
    result = crm("team", "set-role", "U0NOPE", "sales", "--offline")
    assert result.exit_code == 0
    assert result.stdout.strip() == "U0NOPE is sales (new to the team)"
    said = "U0NOPE was not checked with Slack (--offline): make sure it is the person you mean\n"
    assert result.stderr == said
    assert slack.calls_to("users.info") == []


def test_slack_failing_refuses_and_points_to_offline(crm: Crm, slack: FakeSlack) -> None:
    slack.fail_next("users.info", error="ratelimited_forever")
    result = crm("team", "set-role", "U0REP", "admin")
    assert result.exit_code == 2
    assert result.stderr == (
        "crm-bot: could not check U0REP with Slack (ratelimited_forever); try again, "
        "or add --offline to give the role without asking Slack\n"
    )
    assert members(crm) == []


def test_without_a_bot_token_the_role_is_given_unchecked_and_it_says_so(
    crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = crm("team", "set-role", "U0REP", "support")
    assert result.exit_code == 0
    assert result.stderr == "U0REP was not checked with Slack: SLACK_BOT_TOKEN is not set\n"
