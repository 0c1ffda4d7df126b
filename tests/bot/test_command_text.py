"""Command text as Slack sends it with ``should_escape: true``, read back as typed (issue 10, item 6)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from bot.parsing.command_text import typed_text
from crm_core.store import transaction
from tests.bot.harness import SlackSender
from tests.factories import customer


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("admin role <@U0SAM|sam> manager", "admin role <@U0SAM> manager"),
        ("admin role <@W0GRID> admin", "admin role <@W0GRID> admin"),
        ("find <mailto:buyer@acme.example|buyer@acme.example>", "find buyer@acme.example"),
        ("log acme note see <https://acme.example/q|acme.example/q>", "log acme note see acme.example/q"),
        ("log acme note see <https://acme.example>", "log acme note see https://acme.example"),
        ("log acme note told <#C0SALES|sales> and <!here>", "log acme note told #sales and @here"),
        ("log acme note cc <!subteam^S0TEAM|@sales-team>", "log acme note cc @sales-team"),
        ("log acme note a &lt;b&gt; &amp; &lt;@U0FAKE&gt;", "log acme note a <b> & <@U0FAKE>"),
    ],
)
def test_slacks_markup_becomes_what_was_typed_and_people_stay_ids(sent: str, typed: str) -> None:
    assert typed_text(sent) == typed


def test_an_e_mail_slack_turned_into_a_link_still_finds_the_customer(
    engine: Engine, sender: SlackSender, slack: FakeSlack
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.", email="buyer@acme.example")
    sent = sender.command("find buyer@acme.example")
    [reply] = slack.wait_for_reply(sent.response_id)
    assert "Acme Inc." in reply.text
