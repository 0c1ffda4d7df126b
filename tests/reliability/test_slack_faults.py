"""Slack answering 429 with Retry-After, 5xx, or too slowly: every reply and digest arrives once.

Replies go to response URLs and digests through the Web API; both clients retry 429 (after
Retry-After) and 5xx. A timeout is different: Slack may have taken the message after all, so
resending blindly could double it. Times are kept short (Retry-After: 1, a 1-second client timeout)
so each drill takes seconds; nothing asserts on elapsed time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, func, select

from bot.console.fake_web_api import RESPONSE_URL, FakeSlack
from bot.console.signed_requests import SlackSender
from bot.ids import CallbackId
from bot.jobs.digests import METADATA_EVENT, DigestSender
from bot.request.people import People
from bot.slack_api import replies
from bot.slack_api.web_api import retry_handlers
from bot.transport.listener_pool import ListenerPool
from crm_core.actor import Actor
from crm_core.config import Settings
from crm_core.models import DigestDelivery, Interaction
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.bot.conftest import BOT_TOKEN, NOW, SALES
from tests.factories import customer

SETTLED = 30.0
SHORT_TIMEOUT = 1
SLOWER_THAN_TIMEOUT = 2.0
FAULTS: dict[str, dict[str, Any]] = {
    "429 with Retry-After": {"status": 429, "retry_after": 1},
    "500": {"status": 500},
    "503": {"status": 503},
}
MANAGER = "U0BOSS"


@pytest.fixture
def acme(engine: Engine) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.", owner_id=SALES)


def response_posts(slack: FakeSlack, response_id: str) -> list[int]:
    """HTTP statuses the fake answered to each post to this response URL, in order."""
    return [c.status for c in slack.calls_to(RESPONSE_URL) if c.path == f"/response/{response_id}"]


def interactions(engine: Engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(Interaction)) or 0


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_reply_refused_once_is_retried_and_arrives_once(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, engine: Engine, fault: dict[str, Any]
) -> None:
    slack.fail_next(RESPONSE_URL, **fault)
    sent = sender.command("log Acme call Agreed on the renewal")
    assert sent.answer.status == 200
    assert listeners.settle(SETTLED)
    [reply] = slack.replies(sent.response_id)
    assert "Logged" in reply.text and "Acme Inc." in reply.text
    assert response_posts(slack, sent.response_id) == [fault["status"], 200]
    assert interactions(engine) == 1


@pytest.mark.usefixtures("acme")
def test_a_reply_that_times_out_but_reached_slack_is_not_followed_by_an_apology(
    sender: SlackSender,
    slack: FakeSlack,
    listeners: ListenerPool,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The reply thread times each post with this module constant.
    monkeypatch.setattr(replies, "TIMEOUT_SECONDS", SHORT_TIMEOUT)
    slack.delay_next(RESPONSE_URL, SLOWER_THAN_TIMEOUT)
    sent = sender.command("log Acme call Agreed on the renewal")
    assert listeners.settle(SETTLED)
    path = f"/response/{sent.response_id}"
    # The slow post is recorded once its delay is over, whatever the app did meanwhile.
    slack.wait_for(RESPONSE_URL, where=lambda call: call.path == path and "Logged" in call.text)
    assert interactions(engine) == 1
    assert [reply.text for reply in slack.replies(sent.response_id)] == [
        ":white_check_mark: Logged: Call with *Acme Inc.*"
    ]
    assert "a reply to a response URL did not arrive: " in caplog.text  # it did time out


THREAD_CHANNEL = "C0SUPPORT"
THREAD = "1772496000.000100"
# Every Web API call of the "Log to CRM" shortcut, in the order it makes them.
SHORTCUT_CALLS = ("users.info", "conversations.replies", "chat.getPermalink", "views.open")


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("method", SHORTCUT_CALLS)
def test_each_web_api_call_of_a_request_refused_once_is_retried_and_the_modal_opens_once(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, method: str, fault: dict[str, Any]
) -> None:
    slack.add_thread(THREAD_CHANNEL, THREAD, [{"user": "U0BUYER", "text": "Acme here: the order is late"}])
    slack.fail_next(method, **fault)
    sent = sender.shortcut(
        CallbackId.LOG_MESSAGE, {"ts": THREAD, "user": "U0BUYER", "text": "x"}, channel=THREAD_CHANNEL
    )
    assert sent.answer.status == 200
    assert listeners.settle(SETTLED)
    assert [call.status for call in slack.calls_to(method)] == [fault["status"], 200]
    [opened] = slack.delivered("views.open")
    assert "Acme here" in str(opened.params["view"])
    # No apology anywhere: the user sees only the modal.
    for message in (RESPONSE_URL, "chat.postEphemeral", "chat.postMessage"):
        assert slack.delivered(message) == [], message


@pytest.fixture
def team(engine: Engine, slack: FakeSlack) -> None:
    slack.add_user(MANAGER, name="boss", locale="en-US", tz="UTC")
    with transaction(engine) as session:
        add_member(session, actor=Actor("cli:admin", "cli"), user_id=MANAGER, role="manager", timezone="UTC")
        customer(session, "Acme Inc.", owner_id=SALES)


def digest_sender(engine: Engine, client: WebClient) -> DigestSender:
    return DigestSender(
        engine=engine,
        client=client,
        people=People(engine=engine, default_timezone="UTC"),
        default_timezone="UTC",
        worker="drill",
    )


def short_timeout_client(settings: Settings) -> WebClient:
    """The production client's retries, with a timeout short enough for a drill."""
    return WebClient(
        token=BOT_TOKEN,
        base_url=str(settings.slack_api_url),
        timeout=SHORT_TIMEOUT,
        retry_handlers=retry_handlers(),
    )


def digests(slack: FakeSlack, user: str) -> list[dict[str, object]]:
    history = slack.channel_history(f"D{user}")
    return [m for m in history if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT]


def delivery_statuses(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        return list(session.scalars(select(DigestDelivery.status)))


# (method, fault, ticks until sent): a 5xx on the post itself is not retried at once, since Slack may
# have posted it all the same; the next tick retries it after looking for it in the DM.
DIGEST_FAULTS = [
    pytest.param(
        method,
        fault,
        2 if method == "chat.postMessage" and fault["status"] != 429 else 1,
        id=f"{method}-{name}",
    )
    for name, fault in FAULTS.items()
    for method in ("conversations.open", "chat.postMessage")
]


@pytest.mark.usefixtures("team")
@pytest.mark.parametrize(("method", "fault", "ticks"), DIGEST_FAULTS)
def test_a_digest_refused_once_by_the_web_api_is_retried_and_posted_once(
    engine: Engine, settings: Settings, slack: FakeSlack, method: str, fault: dict[str, Any], ticks: int
) -> None:
    slack.fail_next(method, **fault)
    sender = digest_sender(engine, short_timeout_client(settings))
    reports = [
        sender.send_for_date(NOW.date(), NOW + dt.timedelta(minutes=5 * tick)) for tick in range(ticks)
    ]
    assert [r.sent for r in reports] == [[]] * (ticks - 1) + [[MANAGER]]
    assert [c.status for c in slack.calls_to(method)] == [fault["status"], 200]
    assert len(digests(slack, MANAGER)) == 1
    assert delivery_statuses(engine) == ["sent"]


@pytest.mark.usefixtures("team")
def test_a_digest_post_that_times_out_is_found_in_the_dm_instead_of_posted_again(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    sender = digest_sender(engine, short_timeout_client(settings))
    slack.delay_next("chat.postMessage", SLOWER_THAN_TIMEOUT)
    first = sender.send_for_date(NOW.date(), NOW)
    assert first.failed == {MANAGER: "TimeoutError"}  # released for the next tick
    slack.wait_for("chat.postMessage")  # yet Slack took the message once its delay was over
    later = sender.send_for_date(NOW.date(), NOW + dt.timedelta(minutes=5))
    assert later.sent == [MANAGER]
    assert len(digests(slack, MANAGER)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert delivery_statuses(engine) == ["sent"]
