"""Enterprise Grid: a colleague whose home is another workspace of the organisation is no outsider;
guests and people of other organisations (Slack Connect) stay refused (issue 10, item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.request.deps import Deps
from bot.request.people import People
from bot.request.user_request import UserRequest
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings
from crm_core.store import transaction
from tests.bot.conftest import BOT_TOKEN, SALES
from tests.bot.harness import CHANNEL, SlackSender
from tests.factories import customer

GRID = "E0GRID"
COLLEAGUE = "W0COLLEAGUE"  # home: T0OTHERWS, another workspace of the same grid
GRID_GUEST = "W0GRIDGUEST"
PARTNER = "W0PARTNER"  # Slack Connect: a full member of another grid
SMALL_PARTNER = "U0SMALL"  # Slack Connect: an organisation without a grid
REFUSAL = "crm-bot does not show customer data to guests or to people from other organisations"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=BOT_TOKEN, enterprise_id=GRID) as fake:
        fake.add_user(SALES, name="sam")
        fake.add_user(COLLEAGUE, team_id="T0OTHERWS", enterprise_id=GRID)
        fake.add_user(GRID_GUEST, team_id="T0OTHERWS", enterprise_id=GRID, is_restricted=True)
        fake.add_user(PARTNER, team_id="T0PARTNER", enterprise_id="E0PARTNER")
        fake.add_user(SMALL_PARTNER, team_id="T0SMALL")
        yield fake


@pytest.fixture(autouse=True)
def acme(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")


def click_as(sender: SlackSender, slack: FakeSlack, user: str, home: str) -> str:
    """What a click on a profile button in our workspace answers ``user``, whose payload names ``home``."""
    response_id = f"click-{user}-{home}"
    click = {
        "type": "block_actions",
        "team": {"id": FakeSlack.TEAM_ID, "enterprise_id": GRID},
        "enterprise": {"id": GRID},
        "is_enterprise_install": False,
        "user": {"id": user, "username": user.lower(), "team_id": home},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.2", "is_ephemeral": True},
        "response_url": slack.response_url(response_id),
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "profile.open", "value": "0", "type": "button", "block_id": "b"}],
    }
    assert sender.interact(click).status == 200
    return "\n".join(c.text for c in slack.wait_for_reply(response_id))


def test_a_grid_colleague_from_another_workspace_is_answered(sender: SlackSender, slack: FakeSlack) -> None:
    fields = {
        "command": "/crm",
        "text": "find acme",
        "team_id": FakeSlack.TEAM_ID,
        "enterprise_id": GRID,
        "user_id": COLLEAGUE,
        "channel_id": CHANNEL,
        "response_url": slack.response_url("colleague"),
        "trigger_id": "1.2.3",
        "is_enterprise_install": "false",
    }
    sender.post_form(fields)
    [reply] = slack.wait_for_reply("colleague")
    assert "Acme Inc." in reply.text and REFUSAL not in reply.text


@pytest.mark.parametrize(
    ("user", "home"),
    [
        (GRID_GUEST, "T0OTHERWS"),  # a guest stays a guest, grid or not
        (PARTNER, "T0PARTNER"),  # another grid's member in a shared channel
        (SMALL_PARTNER, "T0SMALL"),  # another organisation's member in a shared channel
        (COLLEAGUE, "T0STRANGER"),  # a payload naming a team that is neither ours nor their home
    ],
)
def test_guests_and_other_organisations_stay_refused(
    sender: SlackSender, slack: FakeSlack, user: str, home: str
) -> None:
    assert REFUSAL in click_as(sender, slack, user, home)


def test_a_grid_colleague_clicking_is_not_refused(sender: SlackSender, slack: FakeSlack) -> None:
    assert REFUSAL not in click_as(sender, slack, COLLEAGUE, "T0OTHERWS")


def test_without_bolts_context_a_worker_asks_slack_where_the_app_is_installed(
    settings: Settings, engine: Engine, slack: FakeSlack, listeners: ListenerPool
) -> None:
    """A worker process gets the request without Bolt's auth.test result: it asks once itself."""
    deps = Deps(
        engine=engine,
        settings=settings,
        people=People(engine=engine, default_timezone="UTC"),
        executor=listeners,
    )
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    body: dict[str, Any] = {"user": {"id": COLLEAGUE, "team_id": "T0OTHERWS"}}
    context = {"user_id": COLLEAGUE, "team_id": FakeSlack.TEAM_ID}
    assert UserRequest(deps, client, body, context).is_guest is False
    assert UserRequest(deps, client, {"user": {"id": PARTNER}}, {**context, "user_id": PARTNER}).is_guest
    assert len(slack.calls_to("auth.test")) == 1  # remembered for the process
