"""A command whose customer is unclear keeps what was typed: choosing a candidate finishes it.

``/crm log``, ``/crm followup`` and ``@crm log`` in a thread answer an ambiguous name with candidates
whose buttons carry the pending action; a click logs (or sets the follow-up) with the customer chosen
and replaces the list with the confirmation. Text too long for a button is quoted back in full.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.blocks.customers import render_candidates
from bot.console.fake_web_api import Call, FakeSlack
from bot.ids import ActionId
from bot.transport.listener_pool import ListenerPool
from crm_core.customer_view import CustomerView
from crm_core.models import FollowUp, Interaction
from crm_core.privacy.posted import posted_naming
from crm_core.store import transaction
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender, button, elements, texts
from tests.factories import customer

BOT = FakeSlack.BOT_USER_ID
CHANNEL = "C0SUPPORT"
THREAD = "1772586000.000100"
_EVENT_IDS = itertools.count(1)


@pytest.fixture
def two_acmes(engine: Engine) -> tuple[CustomerView, CustomerView]:
    with transaction(engine) as session:
        return customer(session, "Acme Inc.", company="North"), customer(session, "Acme LLC", company="South")


def logged(engine: Engine) -> list[tuple[int, str, str]]:
    with transaction(engine) as session:
        rows = session.scalars(select(Interaction).order_by(Interaction.id))
        return [(row.customer_id, row.kind, row.summary) for row in rows]


def test_choosing_a_candidate_for_an_ambiguous_log_logs_what_was_typed(
    sender: SlackSender, slack: FakeSlack, engine: Engine, two_acmes: tuple[CustomerView, CustomerView]
) -> None:
    _inc, llc = two_acmes
    [reply] = slack.wait_for_reply(sender.command("log acme call Discussed renewal").response_id)
    assert "Several customers match “acme”" in reply.text
    assert "your Call is logged to them" in reply.text
    assert logged(engine) == []
    chosen = sender.click(button(reply, ActionId.PICK_CANDIDATE, index=1))
    [done] = slack.wait_for_reply(chosen.response_id)
    assert done.params["replace_original"] is True
    assert done.text == ":white_check_mark: Logged: Call with *Acme LLC*."
    assert logged(engine) == [(llc.id, "call", "Discussed renewal")]


def test_choosing_a_candidate_for_an_ambiguous_followup_sets_it_with_the_note(
    sender: SlackSender, slack: FakeSlack, engine: Engine, two_acmes: tuple[CustomerView, CustomerView]
) -> None:
    inc, _llc = two_acmes
    [reply] = slack.wait_for_reply(
        sender.command("followup acme tomorrow send the quote", user=JA).response_id
    )
    assert "2026-03-05 のフォローアップ" in reply.text
    chosen = sender.click(button(reply, ActionId.PICK_CANDIDATE, index=0), user=JA)
    [done] = slack.wait_for_reply(chosen.response_id)
    assert "*Acme Inc.*" in done.text and "2026-03-05" in done.text
    with transaction(engine) as session:
        [row] = session.scalars(select(FollowUp)).all()
        assert (row.customer_id, row.due_on, row.note, row.owner_id) == (
            inc.id,
            dt.date(2026, 3, 5),
            "send the quote",
            JA,
        )


def test_a_summary_too_long_for_a_button_is_quoted_back_whole_and_the_buttons_open_the_form(
    sender: SlackSender, slack: FakeSlack, engine: Engine, two_acmes: tuple[CustomerView, CustomerView]
) -> None:
    summary = "「見積もり」の件 & <details>: " + "x" * 2500 + " END"
    [reply] = slack.wait_for_reply(sender.command(f"log acme meeting {summary}").response_id)
    assert "too long to carry on a button" in reply.text
    assert not [e for e in elements(reply.blocks) if e.get("action_id") == ActionId.PICK_CANDIDATE]
    assert "".join(texts(reply.blocks, "plain_text")).endswith(summary)  # every character, as typed
    sender.click(button(reply, ActionId.LOG_INTERACTION, index=1))
    opened = slack.wait_for("views.open")[0].params["view"]
    picker = next(b["element"] for b in opened["blocks"] if b.get("block_id") == "customer")
    assert picker["initial_option"]["value"] == two_acmes[1].external_id
    assert logged(engine) == []


def test_a_list_of_one_candidate_does_not_say_several(session: Session) -> None:
    only = customer(session, "Acme Inc.")
    blocks = render_candidates("acmy", [only], language="en")
    said = "\n".join(texts(blocks))
    assert "Several" not in said and "the closest is this one" in said and "Acme Inc." in said


@pytest.fixture
def mention_candidates(
    sender: SlackSender,
    slack: FakeSlack,
    listeners: ListenerPool,
    two_acmes: tuple[CustomerView, CustomerView],
) -> Call:
    """``@crm log acme`` in a thread with two Acmes: the candidates it is answered with."""
    slack.add_thread(
        CHANNEL,
        THREAD,
        [
            {"user": "U0BUYER", "text": "Where is my order?"},
            {"user": SALES, "ts": "1772586060.000200", "text": f"<@{BOT}> log acme"},
        ],
    )
    event = {
        "type": "app_mention",
        "user": SALES,
        "text": f"<@{BOT}> log acme",
        "ts": "1772586060.000200",
        "event_ts": "1772586060.000200",
        "channel": CHANNEL,
        "thread_ts": THREAD,
    }
    sender.event(event, event_id=f"EvPick{next(_EVENT_IDS)}")
    assert listeners.settle(30.0)
    [candidates] = slack.delivered("chat.postEphemeral")
    return candidates


def test_choosing_a_candidate_for_a_mention_in_a_thread_logs_the_thread(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    two_acmes: tuple[CustomerView, CustomerView],
    mention_candidates: Call,
) -> None:
    candidates = mention_candidates
    assert "this thread is logged to them" in candidates.text
    chosen = sender.click(button(candidates, ActionId.PICK_CANDIDATE, index=0), channel=CHANNEL)
    [done] = slack.wait_for_reply(chosen.response_id)
    assert done.text == ":white_check_mark: Logged this thread to *Acme Inc.*'s timeline (Support)."
    [confirmed] = [c for c in slack.delivered("chat.postMessage") if c.params.get("thread_ts") == THREAD]
    assert confirmed.params["channel"] == CHANNEL and confirmed.text == done.text
    assert logged(engine) == [(two_acmes[0].id, "support", "@U0BUYER: Where is my order?")]
    with transaction(engine) as session:  # the confirmation names the customer: an erasure finds it
        assert [(p.channel_id, p.kind) for p in posted_naming(session, customer_id=two_acmes[0].id)] == [
            (CHANNEL, "confirmation")
        ]


def test_a_picked_thread_is_read_before_the_store_is_written_so_other_writers_are_not_kept_waiting(
    sender: SlackSender,
    slack: FakeSlack,
    engine: Engine,
    listeners: ListenerPool,
    mention_candidates: Call,
    two_acmes: tuple[CustomerView, CustomerView],
) -> None:
    """On SQLite the unit's first statement takes the one write lock: a pick that read the thread
    after it kept every other writer's acknowledgement (an inbox insert) waiting for Slack."""
    with transaction(engine) as session:
        initech = customer(session, "Initech")
    candidates = mention_candidates
    gate = slack.hold_next("conversations.replies")
    try:
        sender.click(button(candidates, ActionId.PICK_CANDIDATE, index=0), channel=CHANNEL)
        deadline = time.monotonic() + 10
        while slack.faults_left("conversations.replies") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slack.faults_left("conversations.replies") == 0, "the pick never read the thread"
        other = sender.command("log initech call Renewal talk")
        assert other.answer.status == 200
        # Logged and answered while the pick still waits for Slack: the pick holds no lock yet.
        [done] = slack.wait_for_reply(other.response_id)
    finally:
        gate.set()
    assert listeners.settle(30.0)
    assert done.text == ":white_check_mark: Logged: Call with *Initech*."
    assert logged(engine) == [
        (initech.id, "call", "Renewal talk"),
        (two_acmes[0].id, "support", "@U0BUYER: Where is my order?"),
    ]
