"""The App Home tab end to end: published on ``app_home_opened``, re-published after its buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from bot.blocks.limits import MAX_VIEW_BLOCKS
from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId
from bot.transport.listener_pool import ListenerPool
from crm_core.actor import Actor
from crm_core.follow_ups.service import add_follow_up
from crm_core.interactions.service import log_interaction
from crm_core.models import FollowUp
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender, elements, texts
from tests.factories import customer

COLLEAGUE = Actor("U0OTHER", "slack", "sales")


def set_up_book(engine: Engine, user: str) -> None:
    """Three follow-ups of ``user`` (overdue, today, next week) and one of a colleague; touches."""
    me = Actor(user, "slack", "sales")
    with transaction(engine) as session:
        acme, globex, initech = (customer(session, n) for n in ("Acme Inc.", "Globex", "Initech"))
        for who, due_on, actor in [
            (globex, dt.date(2026, 3, 10), me),
            (acme, dt.date(2026, 3, 1), me),
            (initech, dt.date(2026, 3, 4), me),
            (globex, dt.date(2026, 2, 1), COLLEAGUE),
        ]:
            add_follow_up(session, actor=actor, customer_external_id=who.external_id, due_on=due_on, note="")
        for who, day, actor in [(acme, 1, me), (globex, 3, me), (initech, 4, COLLEAGUE)]:
            log_interaction(
                session,
                actor=actor,
                customer_external_id=who.external_id,
                kind="call",
                summary="talked",
                occurred_at=dt.datetime(2026, 3, day, 10),
            )


def opened_home(sender: SlackSender, slack: FakeSlack, listeners: ListenerPool, user: str) -> dict[str, Any]:
    assert sender.open_home(user=user).status == 200
    assert listeners.settle(30)
    view = slack.home_view(user)
    assert view is not None and view["type"] == "home"
    return view


def home_button(view: dict[str, Any], action_id: ActionId, *, index: int = 0) -> dict[str, Any]:
    return [e for e in elements(view["blocks"]) if e.get("action_id") == action_id][index]


def positions(view: dict[str, Any], *needles: str) -> list[int]:
    text = "\n".join(texts(view["blocks"]))
    return [text.index(needle) for needle in needles]


def test_home_lists_my_follow_ups_overdue_first_and_the_customers_i_touched_last(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    set_up_book(engine, SALES)
    view = opened_home(sender, slack, listeners, SALES)
    text = "\n".join(texts(view["blocks"]))
    assert "Your open follow-ups: 3" in text and "2026-02-01" not in text  # the colleague's is not mine
    overdue, today, later = positions(
        view, "(overdue by 3 d) *Acme Inc.*", "(today) *Initech*", "*2026-03-10* *Globex*"
    )
    assert overdue < today < later
    for action_id in (ActionId.MARK_DONE, ActionId.SNOOZE_DAY, ActionId.SNOOZE_WEEK):
        assert len([e for e in elements(view["blocks"]) if e.get("action_id") == action_id]) == 3
    recent_globex, recent_acme = positions(
        view, "*Globex*\nlast touched on 2026-03-03", "*Acme Inc.*\nlast touched on 2026-03-01"
    )
    assert later < recent_globex < recent_acme and "*Initech*\nlast touched" not in text


def test_done_and_snooze_on_home_re_publish_it(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    set_up_book(engine, SALES)
    view = opened_home(sender, slack, listeners, SALES)
    assert sender.click_in_view(home_button(view, ActionId.MARK_DONE), view, user=SALES).status == 200
    assert listeners.settle(30)
    after_done = slack.home_view(SALES)
    assert after_done is not None and "Your open follow-ups: 2" in "\n".join(texts(after_done["blocks"]))
    assert "(overdue by" not in "\n".join(texts(after_done["blocks"]))

    # Initech (due today) is first now; a week's snooze moves it after Globex (due 2026-03-10).
    assert (
        sender.click_in_view(home_button(after_done, ActionId.SNOOZE_WEEK), after_done, user=SALES).status
        == 200
    )
    assert listeners.settle(30)
    after_snooze = slack.home_view(SALES)
    assert after_snooze is not None
    globex, initech = positions(after_snooze, "*2026-03-10* *Globex*", "*2026-03-11* *Initech*")
    assert globex < initech
    with transaction(engine) as session:
        mine = session.scalars(select(FollowUp).where(FollowUp.owner_id == SALES).order_by(FollowUp.id)).all()
        assert [(f.status, f.due_on.isoformat()) for f in mine] == [
            ("open", "2026-03-10"),
            ("done", "2026-03-01"),
            ("snoozed", "2026-03-11"),
        ]
    assert len(slack.delivered("views.publish", user_id=SALES)) == 3
    assert slack.calls_to("chat.postMessage") == [] and slack.calls_to("chat.postEphemeral") == []


def test_home_is_in_japanese_for_a_japanese_user(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    set_up_book(engine, JA)
    text = "\n".join(texts(opened_home(sender, slack, listeners, JA)["blocks"]))
    assert "未完了のフォローアップ: 3 件" in text and "最近やり取りした顧客" in text
    assert "2026-03-11(水)に延期" in text and "最終接点 2026-03-03" in text


def test_an_empty_home_says_what_will_appear_and_the_messages_tab_publishes_nothing(
    sender: SlackSender, slack: FakeSlack, listeners: ListenerPool
) -> None:
    text = "\n".join(texts(opened_home(sender, slack, listeners, SALES)["blocks"]))
    assert (
        "You have no open follow-ups." in text and "Customers you log interactions with show up here." in text
    )
    event = {"type": "app_home_opened", "user": JA, "channel": f"D{JA}", "tab": "messages"}
    assert sender.event(event, event_id="EvMessages").status == 200
    assert listeners.settle(30)
    assert slack.home_view(JA) is None


def test_a_full_home_stays_within_slacks_limits(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    me = Actor(SALES, "slack", "sales")
    with transaction(engine) as session:
        for n in range(40):
            who = customer(session, f"Customer {n:02d}")
            add_follow_up(
                session,
                actor=me,
                customer_external_id=who.external_id,
                due_on=dt.date(2026, 3, 5),
                note="x" * 2000,
            )
            log_interaction(
                session,
                actor=me,
                customer_external_id=who.external_id,
                kind="note",
                summary="x",
                occurred_at=dt.datetime(2026, 3, 1),
            )
    view = opened_home(sender, slack, listeners, SALES)
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    assert "…and 20 more." in "\n".join(texts(view["blocks"]))
