"""Slack's own payloads, each replayed signed through the served app: no 5xx, no traceback, known effects.

The bodies in ``tests/data/slack_payloads`` follow, field for field, payloads from Slack's SDKs'
test data and samples (each file's ``_source`` names the repository and path); ids, texts and
timestamps are this project's, so they land in the fake workspace. ``_sent_as`` says how Slack
sends it (a form, a form with a JSON ``payload``, or JSON) and ``_signed`` whether Slack signs it
(its ``ssl_check`` probe is not signed). ``{response_url}`` becomes a URL on the fake Slack, so a
reply is seen there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.console.fake_web_api import FakeSlack
from bot.transport.listener_pool import ListenerPool
from tests.bot.conftest import BOT_TOKEN, JA, SALES
from tests.bot.harness import SlackSender

CORPUS = Path(__file__).resolve().parents[1] / "data" / "slack_payloads"
GRID = "E0GRID"
CONTENT_TYPES = {"form": "application/x-www-form-urlencoded", "payload": "application/x-www-form-urlencoded"}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The workspace belongs to an Enterprise Grid; a colleague's home is another of its workspaces."""
    with FakeSlack(token=BOT_TOKEN, enterprise_id=GRID) as fake:
        fake.add_user(SALES, name="sam", locale="en-US", tz="UTC")
        fake.add_user(JA, name="hanako", locale="ja-JP", tz="Asia/Tokyo")
        fake.add_user("W0COLLEAGUE", name="colleague", team_id="T0OTHERWS", enterprise_id=GRID)
        fake.add_user("W0PARTNER", name="pat", team_id="T0PARTNER", enterprise_id="E0PARTNER")
        # The message the message shortcut is used on.
        fake.add_thread(
            "C0SALES", "1700000000.000300", [{"user": SALES, "text": "<@U0JAPAN> called Acme today"}]
        )
        fake.run_function("Fx0REPLAY")  # the workflow step the function_executed payload runs
        yield fake


def payload_names() -> list[str]:
    return sorted(path.stem for path in CORPUS.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text())
    return document


def encoded(document: dict[str, Any], response_url: str) -> tuple[bytes, str]:
    """The body as Slack sends it, with the response URL pointing at the fake."""
    text = json.dumps(document["body"]).replace('"{response_url}"', json.dumps(response_url))
    body = json.loads(text)
    sent_as = document["_sent_as"]
    if sent_as == "json":
        return json.dumps(body).encode(), "application/json"
    fields = body if sent_as == "form" else {"payload": json.dumps(body)}
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


# What the app does with each: the answer's status, and the Web API methods (and response URL
# posts) it makes, auth.test at start-up aside. Payloads nobody listens for are ignored (404).
EXPECTED: dict[str, tuple[int, list[str]]] = {
    "slash_command": (200, ["users.info", "response_url"]),
    "slash_command_grid_all_fields": (200, ["users.info", "response_url"]),
    "ssl_check": (200, []),
    "ssl_check_smuggled_command": (200, []),
    "url_verification": (200, []),
    "block_actions_unknown_button": (404, []),
    "block_actions_all_fields": (404, []),
    "block_suggestion_customer_picker": (200, ["users.info"]),
    "view_submission_unknown_modal": (404, []),
    "view_submission_slack_connect_other_side": (200, ["users.info", "chat.postMessage"]),
    "view_closed": (404, []),
    "message_shortcut": (200, ["chat.getPermalink", "conversations.replies", "users.info", "views.open"]),
    "global_shortcut": (404, []),
    "app_mention": (200, ["users.info", "chat.postEphemeral"]),
    "app_mention_shared_channel": (200, ["users.info", "chat.postEphemeral"]),
    "app_home_opened_messages_tab_org_install": (200, []),
    "app_home_opened_home_tab_grid_colleague": (200, ["users.info", "views.publish"]),
    # A step naming nobody reads as the workflow; no customer matches, so the step fails.
    "function_executed_find_customer": (200, ["users.info", "functions.completeError"]),
    # The message names no customer: the person who reacted is asked, in a DM, to pick one.
    "reaction_added": (200, ["chat.getPermalink", "conversations.replies", "users.info", "chat.postMessage"]),
}


def test_every_payload_in_the_corpus_names_its_source_and_has_an_expectation() -> None:
    assert payload_names() == sorted(EXPECTED)
    for name in payload_names():
        source = load(name)["_source"]
        assert source["repo"].startswith("slackapi/") and source["path"], name


@pytest.mark.parametrize("name", payload_names())
def test_a_real_slack_payload_replayed_gets_no_5xx_no_traceback_and_does_what_is_expected(
    sender: SlackSender,
    slack: FakeSlack,
    listeners: ListenerPool,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    document = load(name)
    body, content_type = encoded(document, slack.response_url(name))
    options: dict[str, Any] = {} if document["_signed"] else {"signature": "v0=" + "0" * 64}
    answer = sender.post(body, content_type, **options)
    assert listeners.settle(30)
    status, methods = EXPECTED[name]
    made = [c.method for c in slack.calls if c.method != "auth.test"]
    assert (answer.status, sorted(set(made))) == (status, sorted(methods)), answer.body
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    if name == "url_verification":
        assert answer.json() == {"challenge": document["body"]["challenge"]}
    if "response_url" in methods:
        assert [c.path for c in slack.calls_to("response_url")] == [f"/response/{name}"]
    shown = "\n".join(c.text for c in slack.calls if c.method in SHOWN)
    for words in SAID.get(name, ()):
        assert words in shown, name
    refused = REFUSAL in shown
    assert refused == (name in REFUSED), shown


SHOWN = frozenset({"response_url", "chat.postEphemeral", "chat.postMessage", "views.publish", "views.open"})
REFUSAL = "crm-bot does not show customer data to guests or to people from other organisations"
# Slack Connect: a person of another organisation is refused; a grid colleague is not.
REFUSED = frozenset({"view_submission_slack_connect_other_side", "app_mention_shared_channel"})
SAID: dict[str, tuple[str, ...]] = {
    "slash_command": ("/crm find",),
    "slash_command_grid_all_fields": ("No customer matches “Nobody Such Ltd”.",),
    "message_shortcut": ("What happened", "Follow up on (optional)"),
    "reaction_added": ("names no customer I know",),
}
