"""The app manifest declares exactly what the code answers, with the least scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.ids import CallbackId
from bot.listeners.commands import COMMAND
from bot.request.steps import ACTING_INPUT, ACTS_WITHOUT_PERSON
from bot.transport.http_server import EVENTS_PATH

MANIFEST: dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yaml").read_text())


def test_the_command_and_the_shortcut_are_the_ones_the_code_listens_for() -> None:
    features = MANIFEST["features"]
    assert [c["command"] for c in features["slash_commands"]] == [COMMAND]
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [
        ("message", CallbackId.LOG_MESSAGE)
    ]
    assert features["app_home"]["home_tab_enabled"] is True


def test_events_interactivity_and_options_all_go_to_the_one_endpoint() -> None:
    settings = MANIFEST["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "app_mention",
        "function_executed",
        "reaction_added",
    ]
    assert settings["interactivity"]["is_enabled"] is True
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],  # the customer picker's external_select
        *(c["url"] for c in MANIFEST["features"]["slash_commands"]),
    ]
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls)


def test_only_the_scopes_the_app_uses_are_requested() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "channels:history",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "im:history",
        "im:write",
        "mpim:history",
        "reactions:read",
        "users:read",
    ]
    assert "user" not in MANIFEST["oauth_config"]["scopes"]


# The scope conversations.replies needs in each kind of conversation "Log to CRM" can be used in.
HISTORY_SCOPE_BY_CONVERSATION = {
    "public channel": "channels:history",
    "private channel": "groups:history",
    "direct message": "im:history",
    "group direct message": "mpim:history",
}


def test_log_to_crm_can_read_a_thread_in_every_kind_of_conversation() -> None:
    """The README promises "Log to CRM" on any message: each conversation type needs its own scope."""
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    missing = {kind: scope for kind, scope in HISTORY_SCOPE_BY_CONVERSATION.items() if scope not in scopes}
    assert missing == {}


def test_mentions_in_command_text_arrive_as_ids() -> None:
    """``/crm admin role @sam manager`` needs Slack to send ``<@U…|sam>``, not the "@sam" typed."""
    assert [c["should_escape"] for c in MANIFEST["features"]["slash_commands"]] == [True]


# The outputs issue 14 promises for each step.
STEP_OUTPUTS = {
    "find_customer": ["churn_risk", "customer_id", "customer_name", "owner", "segment", "summary"],
    "log_interaction": ["customer_id", "customer_name"],
    "add_follow_up": ["customer_id", "due_date"],
}
USER_ID = "slack#/types/user_id"


def test_each_workflow_step_the_code_runs_is_declared_with_the_person_it_acts_as() -> None:
    functions = MANIFEST["functions"]
    assert sorted(functions) == sorted(ACTING_INPUT) == sorted(STEP_OUTPUTS)
    for callback_id, acting in ACTING_INPUT.items():
        inputs = functions[callback_id]["input_parameters"]
        assert inputs["properties"][acting]["type"] == USER_ID
        assert (acting in inputs["required"]) == (callback_id not in ACTS_WITHOUT_PERSON)
        assert sorted(functions[callback_id]["output_parameters"]["properties"]) == STEP_OUTPUTS[callback_id]
    assert functions["find_customer"]["output_parameters"]["properties"]["owner"]["type"] == USER_ID
    assert MANIFEST["settings"]["function_runtime"] == "remote"
    assert (
        MANIFEST["settings"]["org_deploy_enabled"] is True
    )  # Slack lists custom steps of org-ready apps only
