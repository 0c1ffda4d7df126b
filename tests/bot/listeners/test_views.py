"""Modals end to end: open through the app's own buttons, submit signed, check the store and replies."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import create_app
from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import TIMEOUT_SECONDS, HttpAnswer
from bot.ids import ActionId, Field
from bot.transport.listener_pool import ListenerPool
from crm_core.config import Settings
from crm_core.customer_view import CustomerView
from crm_core.models import Customer, FollowUp, Interaction
from crm_core.store import transaction
from tests.bot.conftest import JA, NOW, SALES, SIGNING_SECRET, Clock, serving
from tests.bot.harness import SlackSender, button, opened_view
from tests.factories import customer

ACME = object()  # stands for Acme's external id, known only once the fixture ran
LOG = ("find acme", ActionId.LOG_INTERACTION)
NEW = ("find Initech", ActionId.CREATE_CUSTOMER)
FOLLOW_UP = ("find acme", ActionId.ADD_FOLLOW_UP)
VALID: dict[tuple[str, ActionId], dict[Field, object]] = {
    LOG: {
        Field.CUSTOMER: ACME,
        Field.KIND: "call",
        Field.SUMMARY: "ok",
        Field.OCCURRED_ON: NOW.date().isoformat(),
    },
    NEW: {Field.NAME: "Initech"},
    FOLLOW_UP: {Field.DUE_ON: "2026-03-10"},
}
ANSWER_WITHIN = TIMEOUT_SECONDS  # seconds: as long as the sender waits for any answer
DUPLICATE = "Acme Inc. already has this e-mail or phone. Log to that customer instead."


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.", email="buyer@acme.example", phone="03-1234-5678")


def open_modal(
    sender: SlackSender, slack: FakeSlack, command: str, action_id: ActionId, *, user: str = SALES
) -> dict[str, Any]:
    sent = sender.command(command, user=user)
    [reply] = slack.wait_for_reply(sent.response_id)
    sender.click(button(reply, action_id), user=user)
    return opened_view(slack)


def rows(engine: Engine, model: type[Any]) -> list[Any]:
    with transaction(engine) as session:
        return list(session.scalars(select(model).order_by(model.id)))


def confirmation(slack: FakeSlack) -> str:
    [call] = slack.wait_for("chat.postEphemeral")
    assert (call.params["channel"], call.params["user"]) == ("C0SALES", call.params["user"])
    return call.text


def test_logging_from_the_modal_saves_the_interaction_and_a_follow_up(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.LOG_INTERACTION)
    answer = sender.submit(
        view,
        {
            Field.CUSTOMER: acme.external_id,
            Field.KIND: "meeting",
            Field.SUMMARY: "Demo went well.\nThey want a quote.",
            Field.OCCURRED_ON: dt.date(2026, 3, 2),
            Field.FOLLOW_UP_ON: dt.date(2026, 3, 9),
        },
    )
    assert (answer.status, answer.body) == (200, "")
    [logged] = rows(engine, Interaction)
    assert (logged.kind, logged.summary, logged.author) == (
        "meeting",
        "Demo went well.\nThey want a quote.",
        SALES,
    )
    assert logged.occurred_at == dt.datetime(2026, 3, 2, 12)
    [follow_up] = rows(engine, FollowUp)
    assert (follow_up.due_on, follow_up.owner_id) == (dt.date(2026, 3, 9), SALES)
    assert confirmation(slack) == ":white_check_mark: Logged: Meeting with *Acme Inc.*"


def test_a_log_dated_today_keeps_the_time_it_was_logged(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.LOG_INTERACTION)
    assert sender.submit(view, {**VALID[LOG], Field.CUSTOMER: acme.external_id}).status == 200
    assert [i.occurred_at for i in rows(engine, Interaction)] == [NOW.replace(tzinfo=None)]


def test_a_modal_submitted_twice_is_saved_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.LOG_INTERACTION)
    values = {**VALID[LOG], Field.CUSTOMER: acme.external_id, Field.FOLLOW_UP_ON: "2026-03-10"}
    sender.submit(view, values)
    sender.submit(view, values)
    assert len(rows(engine, Interaction)) == 1 and len(rows(engine, FollowUp)) == 1


@pytest.fixture
def patient_sender(
    settings: Settings, engine: Engine, clock: Clock, slack: FakeSlack, listeners: ListenerPool
) -> Iterator[SlackSender]:
    """A sender to an app whose Web API calls wait for a held answer longer than a test does."""
    app = create_app(settings, engine, clock=clock, listener_executor=listeners)
    app.client.timeout = 10 * ANSWER_WITHIN  # each request's client is made with the app client's timeout
    with serving(app, slack) as served:
        yield SlackSender(served.url, SIGNING_SECRET, slack)


@pytest.mark.parametrize("modal", [LOG, NEW, FOLLOW_UP], ids=["log", "new_customer", "follow_up"])
def test_a_submission_is_answered_while_slack_is_still_taking_its_confirmation(
    patient_sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    acme: CustomerView,
    modal: tuple[str, ActionId],
) -> None:
    # Slow or rate-limited, Slack must still get its answer to the submission in time: the answer
    # is the ack alone, and the confirmation is posted after it. The post is held until the answer
    # has come (or the window is over): an answer that waited for it cannot come in the window, so
    # the window can fail a stalled machine at worst, never pass an answer that waited.
    sender = patient_sender
    view = open_modal(sender, slack, *modal)
    held = slack.hold_next("chat.postEphemeral")
    values = {field: acme.external_id if value is ACME else value for field, value in VALID[modal].items()}
    answers: list[HttpAnswer] = []
    submitting = threading.Thread(target=lambda: answers.append(sender.submit(view, values)))
    submitting.start()
    try:
        submitting.join(timeout=ANSWER_WITHIN)
        assert answers, "the answer to the submission waited for chat.postEphemeral"
    finally:
        held.set()
        submitting.join()
    assert (answers[0].status, answers[0].body) == (200, "")
    saved = {LOG: Interaction, NEW: Customer, FOLLOW_UP: FollowUp}[modal]
    assert len(rows(engine, saved)) == (2 if saved is Customer else 1)  # Initech beside Acme
    assert confirmation(slack)


def test_a_confirmation_slack_refuses_after_the_answer_is_still_told(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, *FOLLOW_UP)
    slack.fail_next("chat.postEphemeral", error="invalid_blocks")
    answer = sender.submit(view, VALID[FOLLOW_UP])
    assert (answer.status, answer.body) == (200, "")  # answered before the post was refused
    told = slack.wait_for("chat.postEphemeral", count=2)[-1]  # the refusal, told as any error
    assert told.text.startswith(":warning:") and told.params["user"] == SALES
    assert len(rows(engine, FollowUp)) == 1


def test_modal_errors_are_in_the_language_the_modal_was_opened_in(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.LOG_INTERACTION, user=JA)
    values = {
        Field.CUSTOMER: acme.external_id,
        Field.KIND: "call",
        Field.SUMMARY: "",
        Field.OCCURRED_ON: "2026-03-04",
    }
    answer = sender.submit(view, values, user=JA)
    assert answer.json()["errors"] == {Field.SUMMARY: "何があったかを簡単に入力してください。"}


def test_the_customer_picker_searches_forgivingly(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.LOG_INTERACTION)
    answer = sender.suggest(view, "ＡＣＭＥ")
    assert answer.status == 200
    assert answer.json()["options"] == [
        {"text": {"type": "plain_text", "text": "Acme Inc.", "emoji": True}, "value": acme.external_id}
    ]
    assert sender.suggest(view, "zzzz").json()["options"] == []


def test_a_new_customer_is_created_owned_by_its_creator_and_shown(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    view = open_modal(sender, slack, "find Initech", ActionId.CREATE_CUSTOMER)
    values = {
        Field.NAME: "Initech",
        Field.EMAIL: "Bill@Initech.example",
        Field.PHONE: "",
        Field.COMPANY: "Initech LLC",
    }
    assert sender.submit(view, values).body == ""
    [created] = rows(engine, Customer)
    assert (created.name, created.email, created.company, created.owner_id) == (
        "Initech",
        "bill@initech.example",
        "Initech LLC",
        SALES,
    )
    text = confirmation(slack)
    assert (
        "Created customer *Initech*." in text
        and "bill@initech.example" in text
        and "very similar" not in text
    )


def test_a_near_identical_name_is_created_with_a_warning(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find Initech", ActionId.CREATE_CUSTOMER)
    assert sender.submit(view, {Field.NAME: "ACME, Inc"}).body == ""
    assert [c.name for c in rows(engine, Customer)] == ["Acme Inc.", "ACME, Inc"]
    text = confirmation(slack)
    assert "Existing customers with a very similar name" in text and "Acme Inc." in text


def test_a_duplicate_is_explained_in_japanese(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find 新規商事", ActionId.CREATE_CUSTOMER, user=JA)
    body = sender.submit(view, {Field.NAME: "新規商事", Field.EMAIL: "buyer@acme.example"}, user=JA).json()
    assert body["errors"][Field.EMAIL].startswith(
        "Acme Inc. がすでにこのメールアドレスか電話番号を使っています。"
    )


def test_adding_a_follow_up_from_the_modal(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.ADD_FOLLOW_UP, user=JA)
    due = next(b["element"] for b in view["blocks"] if b.get("block_id") == Field.DUE_ON)
    assert due["initial_date"] == "2026-03-05"
    assert sender.submit(view, {Field.DUE_ON: "2026-03-20", Field.NOTE: "見積もりを送る"}, user=JA).body == ""
    [row] = rows(engine, FollowUp)
    assert (row.customer_id, row.owner_id, row.due_on, row.note) == (
        acme.id,
        JA,
        dt.date(2026, 3, 20),
        "見積もりを送る",
    )
    assert confirmation(slack) == ":alarm_clock: *Acme Inc.* へのフォローアップを 2026-03-20 に設定しました。"


@pytest.mark.parametrize(
    ("modal", "values", "field", "message"),
    [
        (LOG, {Field.OCCURRED_ON: "2026-03-05"}, Field.OCCURRED_ON, "This date is in the future."),
        (LOG, {Field.FOLLOW_UP_ON: "2026-03-03"}, Field.FOLLOW_UP_ON, "Pick today or a later day."),
        (LOG, {Field.SUMMARY: "   "}, Field.SUMMARY, "Please say in a few words what happened."),
        (LOG, {Field.CUSTOMER: "cus_gone"}, Field.CUSTOMER, "That customer no longer exists"),
        (NEW, {Field.EMAIL: "BUYER@acme.example"}, Field.EMAIL, DUPLICATE),
        (NEW, {Field.PHONE: "0312345678"}, Field.PHONE, DUPLICATE),
        (NEW, {Field.EMAIL: "not-an-address"}, Field.EMAIL, "This is not a valid e-mail address."),
        (NEW, {Field.PHONE: "12-34"}, Field.PHONE, "A phone number needs at least 6 digits."),
        (NEW, {Field.NAME: "   "}, Field.NAME, "Please give a name."),
        (FOLLOW_UP, {Field.DUE_ON: "2026-03-03"}, Field.DUE_ON, "Pick today or a later day."),
    ],
)
def test_modal_errors_show_under_their_field_and_nothing_is_written(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    acme: CustomerView,
    modal: tuple[str, ActionId],
    values: dict[Field, object],
    field: Field,
    message: str,
) -> None:
    view = open_modal(sender, slack, *modal)
    typed = {f: acme.external_id if v is ACME else v for f, v in {**VALID[modal], **values}.items()}
    before = [len(rows(engine, model)) for model in (Customer, Interaction, FollowUp)]
    answer = sender.submit(view, typed)
    assert answer.status == 200
    body = answer.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [field]
    assert body["errors"][field].startswith(message)
    assert [len(rows(engine, model)) for model in (Customer, Interaction, FollowUp)] == before
    assert slack.calls_to("chat.postEphemeral") == []


def test_the_confirmation_goes_by_direct_message_where_the_app_may_not_post(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    view = open_modal(sender, slack, "find acme", ActionId.ADD_FOLLOW_UP)
    slack.fail_next("chat.postEphemeral", error="not_in_channel")
    assert sender.submit(view, VALID[FOLLOW_UP]).body == ""
    [dm] = slack.wait_for("chat.postMessage", where=lambda call: call.params["channel"] == SALES)
    assert dm.text == ":alarm_clock: Follow-up with *Acme Inc.* set for 2026-03-10."
    assert len(rows(engine, FollowUp)) == 1
