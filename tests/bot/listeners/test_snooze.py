"""Snooze buttons: a follow-up still ahead moves from its due date, an overdue one from today."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId
from crm_core.actor import Actor
from crm_core.follow_ups.service import add_follow_up
from crm_core.models import FollowUp
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender, button
from tests.factories import customer

# Today is Wednesday 2026-03-04 (tests.bot.conftest.NOW).
IN_TWO_DAYS = dt.date(2026, 3, 6)
OVERDUE = dt.date(2026, 3, 1)


def one_follow_up(engine: Engine, due_on: dt.date, *, user: str = SALES) -> None:
    with transaction(engine) as session:
        acme = customer(session, "Acme Inc.")
        add_follow_up(
            session,
            actor=Actor(user, "slack", "sales"),
            customer_external_id=acme.external_id,
            due_on=due_on,
            note="call back",
        )


@pytest.mark.parametrize(
    ("due_on", "action_id", "label", "moved_to"),
    [
        (IN_TWO_DAYS, ActionId.SNOOZE_WEEK, "Snooze to Fri 2026-03-13", "2026-03-13"),
        (IN_TWO_DAYS, ActionId.SNOOZE_DAY, "Snooze to Sat 2026-03-07", "2026-03-07"),
        (OVERDUE, ActionId.SNOOZE_WEEK, "Snooze to Wed 2026-03-11", "2026-03-11"),
        (OVERDUE, ActionId.SNOOZE_DAY, "Snooze to Thu 2026-03-05", "2026-03-05"),
    ],
)
def test_the_button_names_the_day_and_the_click_moves_the_follow_up_there(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    due_on: dt.date,
    action_id: ActionId,
    label: str,
    moved_to: str,
) -> None:
    one_follow_up(engine, due_on)
    mine = slack.wait_for_reply(sender.command("mine", user=SALES).response_id)[0]
    snooze = button(mine, action_id)
    assert snooze["text"]["text"] == label
    clicked = sender.click(snooze, user=SALES)
    [confirmed] = slack.wait_for_reply(clicked.response_id)
    assert f"snoozed until {moved_to}" in confirmed.text
    with transaction(engine) as session:
        [row] = session.scalars(select(FollowUp)).all()
        assert (row.status, row.due_on.isoformat()) == ("snoozed", moved_to)


def test_the_snooze_buttons_name_the_day_in_japanese(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    one_follow_up(engine, IN_TWO_DAYS, user=JA)
    mine = slack.wait_for_reply(sender.command("mine", user=JA).response_id)[0]
    assert button(mine, ActionId.SNOOZE_WEEK)["text"]["text"] == "2026-03-13(金)に延期"
