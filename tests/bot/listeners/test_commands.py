"""``/crm`` end to end: signed slash commands in, ephemeral replies (via the response URL) out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from bot.blocks.customers import NewCustomer
from bot.blocks.limits import block_problems
from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId
from crm_core.actor import Actor
from crm_core.config import Settings
from crm_core.customer_view import CustomerView
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import SlackThread, log_interaction
from crm_core.models import AuditEvent, FollowUp, Interaction, Purchase
from crm_core.store import transaction
from crm_core.team.service import get_member
from tests.bot.conftest import JA, SALES, Clock
from tests.bot.harness import SlackSender, button, texts
from tests.factories import customer

ADMIN = "U0ADMIN"
REP = Actor(user_id=SALES, surface="slack", role="sales")
PERMALINK = "https://fake-workspace.slack.com/archives/C1/p1700000000000100"


@pytest.fixture
def acme(engine: Engine) -> CustomerView:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.", email="buyer@acme.example", company="Acme Holdings")


def ask(sender: SlackSender, slack: FakeSlack, text: str, *, user: str = SALES) -> str:
    """Send ``/crm text`` and return everything the one ephemeral reply says."""
    sent = sender.command(text, user=user)
    assert sent.answer.status == 200
    [reply] = slack.wait_for_reply(sent.response_id)
    assert reply.params["response_type"] == "ephemeral"
    return reply.text


def interactions(engine: Engine) -> list[Interaction]:
    with transaction(engine) as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.id)))


def follow_ups(engine: Engine) -> list[FollowUp]:
    with transaction(engine) as session:
        return list(session.scalars(select(FollowUp).order_by(FollowUp.id)))


def test_help_lists_sub_commands_and_kinds_in_english_and_japanese(
    sender: SlackSender, slack: FakeSlack
) -> None:
    english = ask(sender, slack, "help")
    # Escaped on the wire, so Slack shows the placeholders instead of reading them as links.
    assert "/crm log &lt;customer&gt; &lt;kind&gt; &lt;summary…&gt;" in english
    assert "`support` / `ticket` / `サポート`" in english
    japanese = ask(sender, slack, "ヘルプ", user=JA)
    assert "/crm の使い方" in japanese and "`call` / `電話`" in japanese


def test_a_users_language_is_asked_of_slack_once_then_cached(sender: SlackSender, slack: FakeSlack) -> None:
    ask(sender, slack, "help", user=JA)
    ask(sender, slack, "help", user=JA)
    [lookup] = slack.calls_to("users.info", user=JA)
    assert str(lookup.params["include_locale"]).lower() in ("1", "true")


def test_find_shows_the_profile_card(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        log_interaction(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            kind="call",
            summary="Asked for a quote",
            occurred_at=dt.datetime(2026, 3, 1, 10),
            thread=SlackThread("C1", "1700000000.000100", PERMALINK),
        )
        add_follow_up(
            session,
            actor=REP,
            customer_external_id=acme.external_id,
            due_on=dt.date(2026, 3, 2),
            note="send quote",
        )
        session.add(
            Purchase(
                customer_id=acme.id,
                occurred_at=dt.datetime(2026, 2, 1),
                amount=Decimal(12000),
                currency="JPY",
            )
        )
    card = ask(sender, slack, "find acme")
    assert "Acme Inc." in card and "Acme Holdings" in card and "buyer@acme.example" in card
    assert "Asked for a quote" in card and f"<{PERMALINK}|thread>" in card and f"<@{SALES}>" in card
    assert "send quote" in card and "overdue by 2 d" in card
    assert "1 purchase · 12,000 JPY · last on 2026-02-01" in card


def test_a_bare_query_finds_too_and_the_read_is_audited(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    assert "Acme Holdings" in ask(sender, slack, "buyer@acme.example")
    with transaction(engine) as session:
        reads = session.scalar(
            select(func.count()).where(AuditEvent.action == "customer.read", AuditEvent.actor == SALES)
        )
    assert reads == 1


def test_the_profile_card_is_in_japanese_for_a_japanese_user(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    card = ask(sender, slack, "検索 acme", user=JA)
    assert "会社" in card and "まだ記録はありません。" in card and "やり取りを記録" in card


def test_an_ambiguous_query_lists_candidates_with_open_buttons(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    with transaction(engine) as session:
        first = customer(session, "Tanaka Trading", company="North")
        customer(session, "Tanaka Trading", company="South")
    sent = sender.command("find tanaka trading")
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "Several customers match “tanaka trading”" in reply.text
    assert "North" in reply.text and "South" in reply.text
    opened = sender.click(button(reply, ActionId.OPEN_PROFILE, index=0))
    [card] = slack.wait_for_reply(opened.response_id)
    assert card.params["replace_original"] is True
    assert first.external_id in card.text and "North" in card.text


def test_no_match_suggests_names_and_offers_to_create(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    sent = sender.command("find Akme Ink")
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "No customer matches “Akme Ink”" in reply.text
    assert "Acme Inc." in reply.text
    assert NewCustomer.decode(button(reply, ActionId.CREATE_CUSTOMER)["value"]) == NewCustomer(
        name="Akme Ink"
    )


def test_no_match_in_japanese(sender: SlackSender, slack: FakeSlack) -> None:
    reply = ask(sender, slack, "find 存在しない会社", user=JA)
    assert "「存在しない会社」に該当する顧客はいません。" in reply and "顧客を作成" in reply


def test_log_records_an_interaction_by_the_slack_user(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    reply = ask(sender, slack, 'log "Acme Inc." call Asked for a quote <b> & more')
    assert reply == ":white_check_mark: Logged: Call with *Acme Inc.*"  # one full stop after "Inc."
    [logged] = interactions(engine)
    assert (logged.kind, logged.summary, logged.author, logged.source) == (
        "call",
        "Asked for a quote <b> & more",
        SALES,
        "slack",
    )


@pytest.mark.parametrize("summary", ["Checked the payload limits", "payload=1&x"])
def test_a_command_whose_text_holds_the_word_payload_is_answered(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, summary: str
) -> None:
    """Bolt took any form body containing "payload" for an interaction and answered nothing (404)."""
    reply = ask(sender, slack, f'log "Acme Inc." call {summary}')
    assert reply == ":white_check_mark: Logged: Call with *Acme Inc.*"
    assert [row.summary for row in interactions(engine)] == [summary]


def test_log_in_japanese_with_a_japanese_kind(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    reply = ask(sender, slack, "記録 acme 面談 来週のデモを約束", user=JA)
    assert reply == ":white_check_mark: *Acme Inc.* との面談を記録しました。"
    assert [(i.kind, i.summary, i.author) for i in interactions(engine)] == [
        ("meeting", "来週のデモを約束", JA)
    ]


def test_log_to_an_unknown_customer_writes_nothing(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    reply = ask(sender, slack, "log Globex call hello")
    assert "No customer matches “Globex”" in reply
    assert interactions(engine) == []


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        (
            "log acme",
            SALES,
            "The kind is missing. Usage: `/crm log &lt;customer&gt; &lt;kind&gt; &lt;summary…&gt;`",
        ),
        ("log acme purchase 100 yen", SALES, "“purchase” is not a kind of interaction."),
        ("記録 acme", JA, "種類がありません。使い方: `/crm log &lt;顧客&gt; &lt;種類&gt; &lt;内容…&gt;`"),
        ("followup acme someday call", SALES, "I could not read a date in “someday call”."),
        ("フォロー acme いつか", JA, "「いつか」から日付を読み取れませんでした。"),
        ("followup acme 2020-01-01", SALES, "“2020-01-01” is 2020-01-01, which has passed."),
        ("mine please", SALES, "`/crm mine` takes nothing after it (got “please”)."),
        ('log "Acme call x', SALES, 'A customer name opens with " but never closes.'),
    ],
)
def test_malformed_commands_get_a_usage_hint_and_write_nothing(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    acme: CustomerView,
    text: str,
    user: str,
    expected: str,
) -> None:
    assert expected in ask(sender, slack, text, user=user)
    assert interactions(engine) == [] and follow_ups(engine) == []


def test_followup_dates_are_read_in_the_users_time_zone(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView, clock: Clock
) -> None:
    clock.now = dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.UTC)  # already Thursday 05:00 in Tokyo
    assert ask(sender, slack, "followup acme tomorrow send the quote") == (
        ":alarm_clock: Follow-up with *Acme Inc.* set for 2026-03-05."
    )
    assert ask(sender, slack, "フォロー acme 明日 見積もり", user=JA) == (
        ":alarm_clock: *Acme Inc.* へのフォローアップを 2026-03-06 に設定しました。"
    )
    assert [(f.owner_id, f.due_on, f.note) for f in follow_ups(engine)] == [
        (SALES, dt.date(2026, 3, 5), "send the quote"),
        (JA, dt.date(2026, 3, 6), "見積もり"),
    ]


def test_mine_lists_my_open_follow_ups_overdue_first(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    with transaction(engine) as session:
        globex = customer(session, "Globex")
        for name, due, owner in [(globex, 10, SALES), (acme, 1, SALES), (acme, 2, JA)]:
            add_follow_up(
                session,
                actor=Actor(owner, "slack", "sales"),
                customer_external_id=name.external_id,
                due_on=dt.date(2026, 3, due),
                note=f"note {due}",
            )
    reply = ask(sender, slack, "mine")
    assert "Your open follow-ups: 2" in reply
    assert reply.index("note 1") < reply.index("note 10") and "note 2" not in reply
    assert "(overdue by 3 d)" in reply


def test_mine_in_japanese_when_empty(sender: SlackSender, slack: FakeSlack) -> None:
    slack.add_user("U0JA2", locale="ja-JP", tz="Asia/Tokyo")
    assert "未完了のフォローアップはありません。" in ask(sender, slack, "自分", user="U0JA2")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admins=(ADMIN,))


def test_an_admin_sets_a_role_by_mention_and_it_applies_at_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, acme: CustomerView
) -> None:
    slack.add_user(ADMIN, locale="en-US")
    assert "<@U0SUPPORT> now has the role *support*." in ask(
        sender, slack, "admin role <@U0SUPPORT|sue> support", user=ADMIN
    )
    with transaction(engine) as session:
        member = get_member(session, "U0SUPPORT")
    assert member is not None and member.role == "support"
    assert "purchases" not in ask(sender, slack, "find acme", user="U0SUPPORT")


def test_only_admins_set_roles_and_the_refusal_is_audited(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    reply = ask(sender, slack, "admin role <@U0SALES|sam> admin")
    assert reply == "Sorry, only admins may do this (your role is sales): ask one of them."
    with transaction(engine) as session:
        assert get_member(session, SALES) is None
        refused = session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False))).one()
    assert (refused.actor, refused.surface, refused.action) == (SALES, "slack", "team.manage")
    assert "管理者のみ" in ask(sender, slack, "admin 監査 acme", user=JA)


def test_an_admin_reads_a_customers_audit_trail(
    sender: SlackSender, slack: FakeSlack, acme: CustomerView
) -> None:
    slack.add_user(ADMIN, locale="en-US")
    ask(sender, slack, "find acme")
    ask(sender, slack, "log acme call asked for a quote")
    sent = sender.command('admin audit "Acme Inc."', user=ADMIN)
    [reply] = slack.wait_for_reply(sent.response_id)
    assert not block_problems(reply.blocks)
    lines = reply.text.splitlines()
    assert "Audit trail: Acme Inc." in reply.text
    assert any("<@U0SALES> · slack · `customer.read`" in line for line in lines)
    assert any("<@U0SALES> · slack · `interaction.log`" in line for line in lines)
    assert "buyer@acme.example" not in reply.text


def test_admin_usage_mistakes_are_explained(sender: SlackSender, slack: FakeSlack) -> None:
    assert "`/crm admin role @someone &lt;role&gt;`" in ask(sender, slack, "admin roles")
    assert "“boss” is not a role." in ask(sender, slack, "admin role <@U0X1|x> boss")


def test_a_customer_named_like_a_broadcast_pings_nobody(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    with transaction(engine) as session:
        customer(session, "<!channel> Corp", company="<@U0BOSS>")
    sent = sender.command('find "<!channel> Corp"')
    [reply] = slack.wait_for_reply(sent.response_id)
    markup = [reply.params["text"], *texts(reply.blocks, "mrkdwn")]
    assert not any("<!channel>" in text or "<@U0BOSS>" in text for text in markup)
    assert any("&lt;!channel&gt; Corp" in text for text in markup)
