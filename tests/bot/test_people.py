"""Language and time zone: team settings first, then the Slack profile, then the defaults."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.request.people import People
from crm_core.actor import Actor
from crm_core.store import transaction
from crm_core.team.service import add_member, get_member

ADMIN = Actor("U0ADMIN", "cli")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token="xoxb-people") as fake:
        fake.add_user("U0SLACKJA", locale="ja-JP", tz="Asia/Tokyo")
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-people", base_url=slack.api_url)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_slack_profile_decides_and_is_remembered_for_team_members(
    engine: Engine, client: WebClient
) -> None:
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id="U0SLACKJA", role="sales")
    people = People(engine=engine, default_timezone="UTC")
    person = people.lookup(client, "U0SLACKJA")
    assert (person.language, person.timezone) == ("ja", ZoneInfo("Asia/Tokyo"))
    people.wait_until_remembered()
    with transaction(engine) as session:
        member = get_member(session, "U0SLACKJA")
    assert member is not None and (member.slack_locale, member.slack_timezone) == ("ja-JP", "Asia/Tokyo")
    assert (member.locale, member.timezone) == (None, None)  # still "as in Slack", not pinned


def test_a_later_change_in_the_slack_profile_is_followed(
    engine: Engine, client: WebClient, slack: FakeSlack
) -> None:
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id="U0SLACKJA", role="sales")
    first = People(engine=engine, default_timezone="UTC")
    first.lookup(client, "U0SLACKJA")
    first.wait_until_remembered()
    slack.add_user("U0SLACKJA", locale="en-US", tz="Europe/Paris")
    people = People(engine=engine, default_timezone="UTC")
    person = people.lookup(client, "U0SLACKJA")
    assert (person.language, person.timezone) == ("en", ZoneInfo("Europe/Paris"))
    people.wait_until_remembered()
    with transaction(engine) as session:
        member = get_member(session, "U0SLACKJA")
    assert member is not None and member.effective_timezone == "Europe/Paris"


def test_what_an_admin_set_wins_over_the_slack_profile(engine: Engine, client: WebClient) -> None:
    with transaction(engine) as session:
        add_member(
            session, actor=ADMIN, user_id="U0SLACKJA", role="sales", locale="en-US", timezone="Europe/Paris"
        )
    person = People(engine=engine, default_timezone="UTC").lookup(client, "U0SLACKJA")
    assert (person.language, person.timezone) == ("en", ZoneInfo("Europe/Paris"))


def test_answers_are_cached_until_they_are_old(engine: Engine, client: WebClient, slack: FakeSlack) -> None:
    ticks = Ticks()
    people = People(engine=engine, default_timezone="UTC", ttl=60, monotonic=ticks)
    people.lookup(client, "U0SLACKJA")
    ticks.now = 59
    people.lookup(client, "U0SLACKJA")
    assert len(slack.calls_to("users.info")) == 1
    ticks.now = 61
    people.lookup(client, "U0SLACKJA")
    assert len(slack.calls_to("users.info")) == 2


def test_the_language_known_without_slack_is_read_from_the_store_again_once_old(engine: Engine) -> None:
    ticks = Ticks()
    people = People(engine=engine, default_timezone="UTC", ttl=60, monotonic=ticks)
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id="U0SET", role="sales", locale="ja-JP")
    assert people.known_language("U0SET") == "ja"
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id="U0SET", role="sales", locale="en-US")
    ticks.now = 59
    assert people.known_language("U0SET") == "ja"  # the store was read a minute ago: no read now
    ticks.now = 61
    assert people.known_language("U0SET") == "en"


def test_when_slack_cannot_answer_the_defaults_apply_and_slack_is_asked_again(
    engine: Engine, client: WebClient, slack: FakeSlack
) -> None:
    slack.fail_next("users.info", error="user_not_found")
    people = People(engine=engine, default_timezone="Asia/Tokyo")
    fallback = people.lookup(client, "U0SLACKJA")
    assert (fallback.language, fallback.timezone) == ("en", ZoneInfo("Asia/Tokyo"))
    assert people.lookup(client, "U0SLACKJA").language == "ja"
    assert len(slack.calls_to("users.info")) == 2
