"""Who may use crm-bot from Slack, end to end: guests, people of other organisations and people not
let in are refused politely on every surface, in their language, and the refusal is audited; team
members see what their role allows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId, CallbackId, Field
from bot.transport.listener_pool import ListenerPool
from crm_core.actor import Actor
from crm_core.config import Settings
from crm_core.customer_view import CustomerView
from crm_core.interactions.service import log_interaction
from crm_core.models import AuditEvent, Interaction, Purchase
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.bot.conftest import NOW, SALES
from tests.bot.harness import CHANNEL, SlackSender, button, opened_view, texts
from tests.factories import customer

GUEST = "U0GUEST"
OUTSIDER = "U0PARTNER"  # a full member of another organisation, in a shared channel
NEWCOMER = "U0NEW"
ADMIN = "U0ADMIN"
REFUSED_GUEST = "Sorry, crm-bot does not show customer data to guests or to people from other organisations."
OPERATOR = Actor("cli:ops", "cli")


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """An admin by CRM_ADMINS; CRM_DEFAULT_ROLE as the test parametrizes it (``indirect``), else sales."""
    return dataclasses.replace(settings, admins=(ADMIN,), default_role=getattr(request, "param", "sales"))


@pytest.fixture(autouse=True)
def people(slack: FakeSlack) -> None:
    slack.add_user(GUEST, is_restricted=True)
    slack.add_user("U0GUESTJA", locale="ja-JP", is_ultra_restricted=True)
    slack.add_user(OUTSIDER, team_id="T0PARTNER")
    slack.add_user(ADMIN)


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.", email="buyer@acme.example", phone="03-1234-5678")
        session.add(
            Purchase(
                customer_id=acme.id, occurred_at=dt.datetime(2026, 2, 1), amount=Decimal(1200), currency="USD"
            )
        )
        log_interaction(
            session,
            actor=OPERATOR,
            customer_external_id=acme.external_id,
            kind="call",
            summary="asked for a quote",
            occurred_at=dt.datetime(2026, 3, 1, 10),
        )
        return acme


def refusals(engine: Engine) -> list[tuple[str, str, str]]:
    with transaction(engine) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False)))
        return [(row.actor, row.surface, row.action) for row in rows]


def reply_to(sender: SlackSender, slack: FakeSlack, text: str, *, user: str) -> str:
    sent = sender.command(text, user=user)
    [reply] = slack.wait_for_reply(sent.response_id)
    assert reply.params["response_type"] == "ephemeral"
    return reply.text


@pytest.mark.parametrize("user", [GUEST, OUTSIDER])
def test_guests_and_outsiders_are_refused_whatever_they_type_and_it_is_audited(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, user: str
) -> None:
    for text in ("find acme", "acme", "log acme call hi", "mine", "help", "admin audit acme"):
        assert reply_to(sender, slack, text, user=user) == REFUSED_GUEST
    assert refusals(engine) == [(user, "slack", "access")] * 6
    with transaction(engine) as session:
        assert len(list(session.scalars(select(Interaction)))) == 1


def test_a_guest_is_refused_in_their_language(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    assert "ゲストや他組織のメンバー" in reply_to(sender, slack, "find acme", user="U0GUESTJA")


def test_a_payload_from_another_organisation_is_refused_even_if_users_info_says_otherwise(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    slack.add_thread(
        CHANNEL, "1772586000.000100", [{"user": SALES, "text": "about Acme", "ts": "1772586000.000100"}]
    )
    event = {
        "type": "app_mention",
        "user": SALES,
        "user_team": "T0PARTNER",
        "text": f"<@{FakeSlack.BOT_USER_ID}> log Acme",
        "ts": "1772586100.000200",
        "thread_ts": "1772586000.000100",
        "channel": CHANNEL,
    }
    assert sender.event(event, event_id="EvShared").status == 200
    [refusal] = slack.wait_for("chat.postEphemeral")
    assert refusal.text == REFUSED_GUEST and refusal.params["user"] == SALES
    assert slack.calls_to("conversations.replies") == [] and refusals(engine) == [(SALES, "slack", "access")]


def test_buttons_shortcuts_modals_and_pickers_refuse_a_guest(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, listeners: ListenerPool
) -> None:
    sent = sender.command("find acme")
    [card] = slack.wait_for_reply(sent.response_id)
    clicked = sender.click(button(card, ActionId.LOG_INTERACTION), user=GUEST)
    [refusal] = slack.wait_for_reply(clicked.response_id)
    assert refusal.text == REFUSED_GUEST and slack.calls_to("views.open") == []

    shortcut = sender.shortcut(CallbackId.LOG_MESSAGE, {"ts": "1772586000.000100", "text": "x"}, user=GUEST)
    assert slack.wait_for_reply(shortcut.response_id)[0].text == REFUSED_GUEST

    sender.click(button(card, ActionId.LOG_INTERACTION))
    view = opened_view(slack)
    assert sender.suggest(view, "acme", user=GUEST).status == 200
    values = {
        Field.CUSTOMER: acme.external_id,
        Field.KIND: "call",
        Field.SUMMARY: "sneaky",
        Field.OCCURRED_ON: NOW.date().isoformat(),
    }
    assert sender.submit(view, values, user=GUEST).body == ""
    assert listeners.settle(30)
    assert [c.text for c in slack.calls_to("chat.postEphemeral")] == [REFUSED_GUEST] * 2
    assert slack.calls_to("conversations.replies") == []
    with transaction(engine) as session:
        assert [i.summary for i in session.scalars(select(Interaction))] == ["asked for a quote"]
    assert len(refusals(engine)) == 4


def test_a_guests_home_tab_shows_only_the_refusal(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, listeners: ListenerPool
) -> None:
    assert sender.open_home(user=GUEST).status == 200
    assert listeners.settle(30)
    view = slack.home_view(GUEST)
    assert view is not None and texts(view["blocks"]) == [REFUSED_GUEST]
    assert refusals(engine) == [(GUEST, "slack", "access")]


@pytest.mark.parametrize("settings", ["none"], indirect=True)
def test_with_default_role_none_only_team_members_and_admins_get_in(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    slack.add_user(NEWCOMER)
    not_in_team = "Sorry, you are not in the crm-bot team yet: ask an admin to add you."
    assert reply_to(sender, slack, "find acme", user=NEWCOMER) == not_in_team
    assert "Acme Inc." in reply_to(sender, slack, "find acme", user=ADMIN)
    reply_to(sender, slack, f"admin role <@{NEWCOMER}|new> sales", user=ADMIN)
    assert "Acme Inc." in reply_to(sender, slack, "find acme", user=NEWCOMER)
    assert refusals(engine) == [(NEWCOMER, "slack", "access")]


def test_support_sees_contact_details_and_the_timeline_but_no_revenue(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    slack.add_user("U0SUPPORT")
    with transaction(engine) as session:
        add_member(session, actor=OPERATOR, user_id="U0SUPPORT", role="support")
    support = reply_to(sender, slack, "find acme", user="U0SUPPORT")
    assert "buyer@acme.example" in support and "03-1234-5678" in support and "asked for a quote" in support
    assert "purchase" not in support.lower() and "1,200" not in support
    sales = reply_to(sender, slack, "find acme", user=SALES)
    assert "1 purchase · 1,200.00 USD" in sales
