"""The fake Slack answers a real ``WebClient`` as Slack would, and fails on request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.console.fake_web_api import FakeSlack

TOKEN = "xoxb-fake-test"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.api_url)


def test_calls_are_recorded_with_their_parameters(slack: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    posted = client.chat_postMessage(channel="C1", text="hello", blocks=blocks)
    assert posted["ok"] and posted["channel"] == "C1" and posted["ts"]
    [call] = slack.delivered("chat.postMessage", channel="C1")
    assert (call.params["text"], call.blocks, call.text) == ("hello", blocks, "hello\nhi")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_wrong_token_is_refused(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()


def test_users_info_answers_locale_and_time_zone(slack: FakeSlack, client: WebClient) -> None:
    slack.add_user("U1", locale="ja-JP", tz="Asia/Tokyo", is_restricted=True)
    user = client.users_info(user="U1", include_locale=True)["user"]
    assert (user["locale"], user["tz"], user["is_restricted"]) == ("ja-JP", "Asia/Tokyo", True)
    assert "locale" not in client.users_info(user="U1")["user"]


def test_threads_permalinks_and_home_views(slack: FakeSlack, client: WebClient) -> None:
    slack.add_thread(
        "C1", "1700000000.000100", [{"user": "U1", "text": "first"}, {"user": "U2", "text": "reply"}]
    )
    replies = client.conversations_replies(channel="C1", ts="1700000000.000100")["messages"]
    assert [m["text"] for m in replies] == ["first", "reply"] and replies[0]["ts"] == "1700000000.000100"
    with pytest.raises(SlackApiError, match="thread_not_found"):
        client.conversations_replies(channel="C1", ts="1.2")
    link = client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")["permalink"]
    assert link.endswith("/archives/C1/p1700000000000100")
    client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert slack.home_view("U1") is not None and slack.home_view("U1")["type"] == "home"  # type: ignore[index]


def test_chat_delete_removes_a_posted_message_once(slack: FakeSlack, client: WebClient) -> None:
    kept, gone = (client.chat_postMessage(channel="C1", text=text)["ts"] for text in ("kept", "gone"))
    assert client.chat_delete(channel="C1", ts=gone)["ok"]
    assert [m["text"] for m in slack.channel_history("C1")] == ["kept"] and kept != gone
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_delete(channel="C1", ts=gone)


def test_blocks_beyond_slacks_limits_are_refused(client: WebClient) -> None:
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="x", blocks=too_many)
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postEphemeral(channel="C1", user="U1", text="x", blocks=too_long)


def test_failures_are_answered_for_the_next_calls_only(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="C1", text="x")
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    slack.fail_next("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.auth_test()
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert [c.status for c in slack.calls_to("auth.test")] == [429]
