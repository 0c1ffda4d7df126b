"""An e-mail or phone that matches nobody: said so, no names suggested, and a form with it filled in."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.ids import ActionId, Field
from crm_core.store import transaction
from tests.bot.harness import SlackSender, button, opened_view
from tests.factories import customer


@pytest.fixture(autouse=True)
def acmes(engine: Engine) -> None:
    with transaction(engine) as session:
        for name in ("Acme Inc.", "Acme LLC", "Acme Co., Ltd."):
            customer(session, name)


def initial_values(view: dict[str, object]) -> dict[str, str]:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    return {
        b["block_id"]: b["element"].get("initial_value", "")
        for b in blocks
        if b.get("type") == "input" and b["element"].get("type") == "plain_text_input"
    }


@pytest.mark.parametrize(
    ("query", "said", "field"),
    [
        ("newguy@acme.example", "No customer has the e-mail address “newguy@acme.example”", Field.EMAIL),
        ("090-9999-8888", "No customer has the phone number “090-9999-8888”", Field.PHONE),
    ],
)
def test_create_customer_opens_the_form_with_the_email_or_phone_filled_in(
    sender: SlackSender, slack: FakeSlack, query: str, said: str, field: Field
) -> None:
    [reply] = slack.wait_for_reply(sender.command(f"find {query}").response_id)
    assert reply.params["text"].startswith(said)
    assert "Acme" not in reply.text  # matched exactly or not at all: no names offered
    sender.click(button(reply, ActionId.CREATE_CUSTOMER))
    values = initial_values(opened_view(slack))
    assert values == {Field.NAME: "", Field.EMAIL: "", Field.PHONE: "", Field.COMPANY: ""} | {field: query}


def test_a_name_that_matches_nobody_fills_in_the_name(sender: SlackSender, slack: FakeSlack) -> None:
    [reply] = slack.wait_for_reply(sender.command("find Initech").response_id)
    sender.click(button(reply, ActionId.CREATE_CUSTOMER))
    assert initial_values(opened_view(slack))[Field.NAME] == "Initech"
