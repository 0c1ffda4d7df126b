"""The HTTP edge: request signing, acking before slow work, retries against a flaky Slack, failures."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId, Field
from bot.transport.http_server import MAX_BODY_BYTES, HttpServer
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import AuditEvent, Interaction
from crm_core.store import transaction
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.bot.harness import SlackSender, button, opened_view, sign
from tests.factories import customer


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.")


def interactions(engine: Engine) -> list[Interaction]:
    with transaction(engine) as session:
        return list(session.scalars(select(Interaction)))


def audit_rows(engine: Engine) -> list[AuditEvent]:
    with transaction(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.surface == "slack")))


def test_health_check(server: HttpServer) -> None:
    with urllib.request.urlopen(f"{server.url}/healthz") as response:
        assert (response.status, response.read()) == (200, b"ok\n")


def test_slack_can_verify_the_request_url(sender: SlackSender) -> None:
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9"})
    answer = sender.post(body.encode(), "application/json")
    assert (answer.status, answer.json()) == (200, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9"})


@pytest.mark.parametrize("surface", ["command", "interactivity", "event"])
def test_a_forged_signature_is_refused_and_nothing_happens(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, surface: str
) -> None:
    forged = {"signature": "v0=" + "0" * 64}
    if surface == "command":
        answer = sender.command("log acme call forged", **forged).answer
    elif surface == "interactivity":
        answer = sender.interact({"type": "block_actions", "actions": []}, **forged)
    else:
        body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}})
        answer = sender.post(body.encode(), "application/json", **forged)
    assert answer.status == 401
    assert interactions(engine) == [] and audit_rows(engine) == []
    assert [c.method for c in slack.calls] == ["auth.test"]


def test_a_request_signed_with_another_secret_is_refused(
    sender: SlackSender, engine: Engine, acme: CustomerView
) -> None:
    stamp = str(int(time.time()))
    body = b"command=%2Fcrm&text=log+acme+call+x&user_id=U0SALES&team_id=T0FAKE&channel_id=C1"
    answer = sender.post(
        body, "application/x-www-form-urlencoded", timestamp=int(stamp), signature=sign("other", stamp, body)
    )
    assert answer.status == 401 and interactions(engine) == []


def test_a_stale_timestamp_is_refused_even_when_correctly_signed(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    sent = sender.command("log acme call replayed", timestamp=six_minutes_ago)
    assert sent.answer.status == 401
    assert interactions(engine) == [] and [c.method for c in slack.calls] == ["auth.test"]


def test_the_ack_does_not_wait_for_slow_slack(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    gate = slack.hold_next("users.info")
    sent = sender.command("log acme call while slack is slow")
    # Answered while the lazy listener is still stuck on its first Web API call.
    assert (sent.answer.status, sent.answer.body) == (200, "")
    assert slack.replies(sent.response_id) == [] and interactions(engine) == []
    gate.set()
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "Acme Inc." in reply.text and len(interactions(engine)) == 1


def test_concurrent_commands_are_all_acked_while_slack_is_stuck(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    users = [f"U0REP{n:02d}" for n in range(20)]
    gate = slack.hold_next("users.info", times=len(users))
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        sent = list(pool.map(lambda user: sender.command("log acme note busy day", user=user), users))
    assert [s.answer.status for s in sent] == [200] * len(users)
    assert interactions(engine) == []
    gate.set()
    for s in sent:
        slack.wait_for_reply(s.response_id)
    assert sorted(i.author for i in interactions(engine)) == users


def test_a_rate_limited_reply_is_retried_and_arrives_once(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    slack.fail_next("response_url", status=429, retry_after=0)
    sent = sender.command("find acme")
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "Acme Inc." in reply.text
    attempts = [c for c in slack.calls_to("response_url") if c.path == f"/response/{sent.response_id}"]
    assert [c.status for c in attempts] == [429, 200]


@pytest.mark.parametrize("method", ["views.open", "users.info"])
def test_server_errors_from_the_web_api_are_retried(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView, method: str
) -> None:
    sent = sender.command("find acme")
    [card] = slack.wait_for_reply(sent.response_id)
    slack.fail_next(method, status=503)
    sender.click(button(card, ActionId.LOG_INTERACTION), user="U0OTHER")
    view = opened_view(slack)
    assert view["blocks"][0]["block_id"] == Field.CUSTOMER
    assert [c.status for c in slack.calls_to(method)][-2:] == [503, 200]
    assert len(slack.delivered("views.open")) == 1


def test_an_unexpected_failure_apologises_and_logs_without_secrets(
    sender: SlackSender, slack: FakeSlack, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
    # Slack refusing to open a modal with an error nothing can fix (not retried) is unexpected.
    slack.fail_next("views.open", error="internal_error")
    sent = sender.click(
        {
            "action_id": ActionId.LOG_INTERACTION,
            "value": acme.external_id,
            "text": {"type": "plain_text", "text": "x"},
        }
    )
    [reply] = slack.wait_for_reply(sent.response_id)
    assert reply.params["text"].startswith(":warning: Sorry, something went wrong on our side")
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("unexpected")]
    assert "SlackApiError" in line and "user_request.py" in line and "U0SALES" in line
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert BOT_TOKEN not in everything and SIGNING_SECRET not in everything
    assert "Traceback" not in reply.text and "JSONDecodeError" not in reply.text


def unsigned_post(server: HttpServer, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"{server.url}/slack/events", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("flaw", ["no signature", "no timestamp", "future timestamp", "tampered body"])
def test_every_flaw_in_signing_is_refused_before_anything_happens(
    server: HttpServer, slack: FakeSlack, engine: Engine, acme: CustomerView, flaw: str
) -> None:
    stamp = str(int(time.time()) + (6 * 60 if flaw == "future timestamp" else 0))
    body = b"command=%2Fcrm&text=log+acme+call+x&user_id=U0SALES&team_id=T0FAKE&channel_id=C1"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SIGNING_SECRET, stamp, body),
    }
    if flaw == "no signature":
        del headers["X-Slack-Signature"]
    if flaw == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    sent = body.replace(b"call+x", b"call+y") if flaw == "tampered body" else body
    assert unsigned_post(server, sent, headers) == 401
    assert interactions(engine) == [] and audit_rows(engine) == []
    assert [c.method for c in slack.calls] == ["auth.test"]


def test_a_huge_body_is_refused_early_and_the_server_keeps_serving(
    server: HttpServer, sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    huge = b"text=" + b"x" * (2 * MAX_BODY_BYTES)
    try:
        status = sender.post(huge, "application/x-www-form-urlencoded").status
    except (ConnectionError, urllib.error.URLError):
        status = 413  # waitress may close the connection before the client has sent it all
    assert status == 413
    assert [c.method for c in slack.calls] == ["auth.test"]
    with urllib.request.urlopen(f"{server.url}/healthz") as response:
        assert response.status == 200
    sent = sender.command("find acme")
    assert "Acme Inc." in slack.wait_for_reply(sent.response_id)[0].text


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, set before the app is built: Bolt copies the root level into its loggers."""
    caplog.set_level(logging.DEBUG)
    return caplog


def test_failing_requests_log_no_token_secret_or_response_url_even_at_debug(
    debug_logs: pytest.LogCaptureFixture,
    sender: SlackSender,
    slack: FakeSlack,
    acme: CustomerView,
    listeners: ListenerPool,
) -> None:
    slack.fail_next("users.info", error="invalid_auth")
    slack.fail_next("response_url", status=500, times=3)
    sender.command("find acme")
    slack.fail_next("chat.postEphemeral", status=500, times=3)
    slack.fail_next("chat.postMessage", error="not_authed", times=3)
    sender.submit({"blocks": [], "private_metadata": '{"channel": "C1"}'}, {}, user="U0NEW")
    sender.command("find acme", signature="v0=" + "1" * 64)
    sender.command("find acme", timestamp=int(time.time()) - 3600)
    assert listeners.settle(30)
    spoke = {(r.name.split(".")[0], r.levelno) for r in debug_logs.records}
    assert {("slack_sdk", logging.DEBUG), ("slack_bolt", logging.DEBUG), ("bot", logging.WARNING)} <= spoke
    for record in debug_logs.records:
        said = "\n".join([record.getMessage(), record.exc_text or "", logging.Formatter().format(record)])
        assert BOT_TOKEN not in said and SIGNING_SECRET not in said, record.name
        assert "/response/" not in said, record.name  # a response URL is a credential too
