"""``/crm segment`` end to end: the count in the reply, the list as a CSV file in the asker's DM."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import UPLOAD, FakeSlack
from crm_core.actor import Actor
from crm_core.models import CustomerScore, Purchase
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.bot.conftest import NOW, SALES
from tests.bot.harness import SlackSender
from tests.factories import customer

SUPPORT = "U0SUPPORT"
GUEST = "U0GUEST"


@pytest.fixture
def scored(engine: Engine) -> None:
    """Three VIPs (one with a name a spreadsheet would run), one of them SALES's and tagged gold."""
    with transaction(engine) as session:
        add_member(session, actor=Actor("cli:admin", "cli"), user_id=SUPPORT, role="support")
        rows = [
            ("Acme Inc.", "buyer@acme.example", SALES, ["gold"], True),
            ('=HYPERLINK("https://evil.example","x")', "evil@example.com", None, [], True),
            ("Beta KK", "beta@example.jp", "U0OTHER", ["gold"], True),
            ("Quiet Co", "quiet@example.com", SALES, ["gold"], False),
        ]
        for name, email, owner, tags, vip in rows:
            made = customer(session, name, email=email, owner_id=owner, tags=tags)
            session.add(
                CustomerScore(
                    customer_id=made.id, scored_on=NOW.date(), segment="Champions", vip=vip, churn_risk="ok"
                )
            )
            session.add(
                Purchase(customer_id=made.id, occurred_at=dt.datetime(2026, 2, 1), amount=100, currency="JPY")
            )


def sent_csv(slack: FakeSlack, *, count: int = 1) -> list[dict[str, str]]:
    slack.wait_for("files.completeUploadExternal", count=count)
    content: bytes = slack.calls_to(UPLOAD)[-1].params["content"]
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read Japanese names as typed
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def ask(sender: SlackSender, slack: FakeSlack, text: str, *, user: str = SALES) -> str:
    sent = sender.command(text, user=user)
    [reply] = slack.wait_for_reply(sent.response_id)
    return reply.text


@pytest.mark.usefixtures("scored")
def test_a_segment_is_counted_and_sent_to_the_dm_formula_safe(sender: SlackSender, slack: FakeSlack) -> None:
    assert "*vip*: 3 customers" in ask(sender, slack, "segment vip")
    rows = sent_csv(slack)
    [completed] = slack.calls_to("files.completeUploadExternal")
    assert completed.params["channel_id"] == f"D{SALES}"  # the DM, never the channel typed in
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("https://evil.example","x")', "Acme Inc.", "Beta KK"]
    assert rows[1]["email"] == "buyer@acme.example" and rows[1]["orders"] == "1"


@pytest.mark.usefixtures("scored")
def test_owner_and_tag_narrow_the_list_and_support_gets_no_revenue(
    sender: SlackSender, slack: FakeSlack
) -> None:
    assert "1 customer" in ask(sender, slack, "segment vip owner:me tag:GOLD")
    assert [r["name"] for r in sent_csv(slack)] == ["Acme Inc."]
    assert "*Champions*: 1 customer" in ask(
        sender, slack, 'segment "champions" owner:<@U0OTHER|o>', user=SUPPORT
    )
    [row] = sent_csv(slack, count=2)
    assert row["name"] == "Beta KK" and row["email"] == "beta@example.jp"
    assert "orders" not in row and "last_purchase_on" not in row


@pytest.mark.usefixtures("scored")
def test_an_empty_or_unknown_list_sends_no_file_and_guests_are_refused(
    sender: SlackSender, slack: FakeSlack
) -> None:
    assert "No customer is in *won-back*" in ask(sender, slack, "segment won-back")
    assert "“Gold Members” is not a campaign list" in ask(sender, slack, "segment Gold Members")
    slack.add_user(GUEST, is_ultra_restricted=True)
    assert "guest" in ask(sender, slack, "segment vip", user=GUEST).lower()
    assert slack.calls_to("files.getUploadURLExternal") == []


@pytest.mark.usefixtures("scored")
@pytest.mark.parametrize("method", ["files.getUploadURLExternal", UPLOAD, "files.completeUploadExternal"])
@pytest.mark.parametrize("fault", [{"status": 429, "retry_after": 0}, {"status": 503}])
def test_a_rate_limit_or_a_slack_outage_on_an_upload_call_is_retried_and_one_file_sent(
    sender: SlackSender, slack: FakeSlack, method: str, fault: dict[str, int]
) -> None:
    slack.fail_next(method, **fault)  # type: ignore[arg-type]
    assert "3 customers" in ask(sender, slack, "segment vip")
    assert len(sent_csv(slack)) == 3
    assert len(slack.delivered("files.completeUploadExternal")) == 1


@pytest.mark.usefixtures("scored")
def test_a_file_slack_keeps_refusing_ends_in_an_apology_not_silence(
    sender: SlackSender, slack: FakeSlack
) -> None:
    """The answer was counted, the request's work committed: a failure while sending is still told."""
    slack.fail_next(UPLOAD, status=503, times=3)
    sent = sender.command("segment vip", user=SALES)
    replies = slack.wait_for_reply(sent.response_id, count=2)
    assert "3 customers" in replies[0].text
    assert replies[1].text.startswith(":warning: Sorry, something went wrong on our side")
    assert slack.delivered("files.completeUploadExternal") == []
