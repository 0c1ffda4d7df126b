"""Buttons end to end: each test clicks a button the app itself rendered."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from bot.blocks.follow_ups import FollowUpButton
from bot.console.fake_web_api import Call, FakeSlack
from bot.ids import ActionId, CallbackId, Field
from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.customers.service import customer_by_external_id
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import log_interaction
from crm_core.models import AuditEvent, FollowUp, Purchase
from crm_core.store import transaction
from tests.bot.conftest import JA, NOW, SALES
from tests.bot.harness import CHANNEL, SlackSender, button, elements, opened_view
from tests.factories import customer

REP = Actor(user_id=SALES, surface="slack", role="sales")


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.", company="Acme Holdings")
        add_follow_up(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            due_on=dt.date(2026, 3, 1),
            note="call back",
        )
        return acme


def reply_to(sender: SlackSender, slack: FakeSlack, text: str, *, user: str = SALES) -> Call:
    sent = sender.command(text, user=user)
    return slack.wait_for_reply(sent.response_id)[0]


def click(sender: SlackSender, slack: FakeSlack, call: Call, action_id: str, *, user: str = SALES) -> Call:
    """Click the button and return the reply it brings (through the click's response URL)."""
    sent = sender.click(button(call, action_id), user=user)
    assert sent.answer.status == 200
    return slack.wait_for_reply(sent.response_id)[0]


def follow_up_rows(engine: Engine) -> list[FollowUp]:
    with transaction(engine) as session:
        return list(session.scalars(select(FollowUp).order_by(FollowUp.id)))


def test_log_interaction_opens_the_modal_with_the_customer_picked(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    card = reply_to(sender, slack, "find acme")
    sent = sender.click(button(card, ActionId.LOG_INTERACTION))
    [call] = slack.wait_for("views.open")
    view = call.params["view"]
    assert call.params["trigger_id"].startswith("trigger.")
    assert view["callback_id"] == CallbackId.LOG_INTERACTION
    picker = next(b["element"] for b in view["blocks"] if b.get("block_id") == Field.CUSTOMER)
    assert picker["initial_option"]["value"] == acme.external_id
    today = next(b["element"] for b in view["blocks"] if b.get("block_id") == Field.OCCURRED_ON)
    assert today["initial_date"] == "2026-03-04"
    assert json.loads(view["private_metadata"])["channel"] == "C0SALES"
    assert slack.replies(sent.response_id) == []


def test_add_follow_up_opens_its_modal_in_the_users_language(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    card = reply_to(sender, slack, "find acme", user=JA)
    sender.click(button(card, ActionId.ADD_FOLLOW_UP), user=JA)
    view = opened_view(slack)
    assert view["callback_id"] == CallbackId.ADD_FOLLOW_UP
    assert view["title"]["text"] == "フォローアップを追加"
    assert json.loads(view["private_metadata"]) == {
        "channel": "C0SALES",
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "customer": acme.external_id,
    }


def test_mark_done_redraws_the_card_and_a_second_click_changes_nothing(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    card = reply_to(sender, slack, "find acme")
    done = button(card, ActionId.MARK_DONE)
    first = sender.click(done)
    [redrawn] = slack.wait_for_reply(first.response_id)
    assert redrawn.params["replace_original"] is True
    assert "No open follow-ups." in redrawn.text and "call back" not in redrawn.text
    [row] = follow_up_rows(engine)
    assert row.status == "done" and row.done_at == NOW.replace(tzinfo=None)
    second = sender.click(done)
    [again] = slack.wait_for_reply(second.response_id)
    assert "No open follow-ups." in again.text
    assert [(r.status, r.done_at) for r in follow_up_rows(engine)] == [("done", NOW.replace(tzinfo=None))]


@pytest.mark.parametrize(
    ("action_id", "due"), [(ActionId.SNOOZE_DAY, "2026-03-05"), (ActionId.SNOOZE_WEEK, "2026-03-11")]
)
def test_snoozing_from_mine_moves_the_due_date_and_redraws_the_list(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, action_id: ActionId, due: str
) -> None:
    mine = reply_to(sender, slack, "mine")
    assert "(overdue by 3 d)" in mine.text
    redrawn = click(sender, slack, mine, action_id)
    assert f"*{due}*" in redrawn.text and "overdue" not in redrawn.text
    [row] = follow_up_rows(engine)
    assert (row.status, row.due_on.isoformat()) == ("snoozed", due)


def test_done_from_mine_empties_the_list_in_japanese(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        add_follow_up(
            session,
            actor=Actor(JA, "slack", "sales"),
            customer_external_id=acme.external_id,
            due_on=dt.date(2026, 3, 4),
        )
    mine = reply_to(sender, slack, "自分", user=JA)
    assert "（今日）" in mine.text
    assert (
        "未完了のフォローアップはありません。" in click(sender, slack, mine, ActionId.MARK_DONE, user=JA).text
    )
    assert [r.status for r in follow_up_rows(engine)] == ["open", "done"]


def test_open_from_mine_shows_the_card(sender: SlackSender, slack: FakeSlack, acme: CustomerView) -> None:
    mine = reply_to(sender, slack, "mine")
    assert "Acme Holdings" in click(sender, slack, mine, ActionId.OPEN_PROFILE).text


def test_create_customer_opens_the_new_customer_modal_with_the_name_typed(
    sender: SlackSender, slack: FakeSlack
) -> None:
    reply = reply_to(sender, slack, "find Initech")
    sender.click(button(reply, ActionId.CREATE_CUSTOMER))
    view = opened_view(slack)
    assert view["callback_id"] == CallbackId.NEW_CUSTOMER
    name = next(b["element"] for b in view["blocks"] if b.get("block_id") == Field.NAME)
    assert name["initial_value"] == "Initech"


def test_a_button_for_a_merged_away_customer_explains_instead_of_failing(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    card = reply_to(sender, slack, "find acme")
    with transaction(engine) as session:
        session.delete(customer_by_external_id(session, acme.external_id))
    reply = click(sender, slack, card, ActionId.LOG_INTERACTION)
    assert "That customer no longer exists" in reply.text
    assert slack.calls_to("views.open") == []


def test_sharing_a_card_posts_it_in_the_channel_masked_and_without_revenue(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.", email="taro@example.jp", phone="03-1111-2222")
        session.add(
            Purchase(
                customer_id=acme.id, occurred_at=dt.datetime(2026, 2, 1), amount=Decimal(990), currency="USD"
            )
        )
    card = reply_to(sender, slack, "find acme")
    assert "taro@example.jp" in card.text and "990.00 USD" in card.text  # the asker's own view
    sender.click(button(card, ActionId.SHARE_PROFILE))
    [post] = slack.wait_for("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    assert "t***@example.jp" in post.text and "***-2222" in post.text
    assert "taro" not in post.text and "1111" not in post.text and "990" not in post.text
    assert "Shared by <@U0SALES>" in post.text
    assert not [e for e in elements(post.blocks) if e.get("type") == "button"]  # nothing to redraw it


def test_a_shared_card_shows_no_text_typed_in_interactions_or_follow_up_notes(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
        log_interaction(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            kind="call",
            summary="Hanako (hanako@partner.example, 090-1234-5678) wants a refund",
            occurred_at=dt.datetime(2026, 3, 2, 10),
        )
        add_follow_up(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            due_on=dt.date(2026, 3, 9),
            note="mail jiro@partner.example the quote",
        )
    card = reply_to(sender, slack, "find acme")
    assert "hanako@partner.example" in card.text and "jiro@partner.example" in card.text  # the asker's
    sender.click(button(card, ActionId.SHARE_PROFILE))
    [post] = slack.wait_for("chat.postMessage")
    for typed in ("Hanako", "hanako@", "1234", "5678", "refund", "jiro@", "quote", "slack.com/archives"):
        assert typed not in post.text
    assert "*2026-03-02* · Call · <@U0SALES>" in post.text  # kind, date and author remain
    assert "1 interactions logged in all." in post.text and "*2026-03-09* · <@U0SALES>" in post.text


def test_opening_the_reassign_modal_is_a_read_the_service_checks_and_audits(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    [follow_up] = follow_up_rows(engine)
    reassign = {
        "type": "button",
        "action_id": ActionId.REASSIGN,
        "text": {"type": "plain_text", "text": "Reassign"},
        "value": FollowUpButton(follow_up.id, in_digest=True).encode(),
    }
    assert sender.click(reassign, channel=f"D{SALES}").answer.status == 200
    assert opened_view(slack)["callback_id"] == CallbackId.REASSIGN_FOLLOW_UP
    with transaction(engine) as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.read")).all()
        assert [(r.actor, r.customer_id, r.allowed) for r in reads] == [(SALES, acme.id, True)]


def test_sharing_where_the_bot_is_not_invited_says_how_to_fix_it(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    card = reply_to(sender, slack, "find acme")
    slack.fail_next("chat.postMessage", error="not_in_channel")
    assert "invite me to the channel first" in click(sender, slack, card, ActionId.SHARE_PROFILE).text
