"""Slack markup as readable text: stored thread text keeps people's words, the console drops the markup."""

from __future__ import annotations

import pytest

from bot.blocks.as_text import blocks_to_text, mrkdwn_to_text, slack_to_plain
from bot.blocks.limits import button, context, section


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("<@U0SALES> can you check?", "@U0SALES can you check?"),
        ("<@U0SALES|sam> and <#C0SUPPORT|support>", "@sam and #support"),
        (
            "<!here> the site <https://acme.example/o/42|order 42> is down",
            "@here the site order 42 (https://acme.example/o/42) is down",
        ),
        (
            "<https://acme.example> <mailto:bob@acme.example|bob@acme.example> <tel:0312345678|03-1234-5678>",
            "https://acme.example bob@acme.example 03-1234-5678",
        ),
        ("<!subteam^S0TEAM|@support> &lt;b&gt; R&amp;D", "@support <b> R&D"),
        ("`/crm log <customer> <kind>` stays", "`/crm log <customer> <kind>` stays"),
        ("*bold* and :tada: are their words", "*bold* and :tada: are their words"),
    ],
)
def test_slack_tokens_are_spelled_out(slack: str, plain: str) -> None:
    assert slack_to_plain(slack) == plain


def test_mrkdwn_for_reading_loses_stars_and_emoji_codes() -> None:
    assert (
        mrkdwn_to_text(":white_check_mark: Logged: Call with *Acme Inc.*.") == "Logged: Call with Acme Inc.."
    )


def test_buttons_are_shown_in_order_by_the_label_given() -> None:
    seen: list[str] = []

    def numbered(label: str, element: object) -> str:
        seen.append(label)
        return f"[{len(seen)}] {label}"

    blocks = [
        {**section("*Acme*"), "accessory": button("Open", "profile.open", "cus_1")},
        context("note"),
        {"type": "actions", "elements": [button("Done", "a"), button("Snooze", "b")]},
    ]
    assert blocks_to_text(blocks, button_label=numbered) == "Acme\n  [1] Open\n  note\n  [2] Done [3] Snooze"
