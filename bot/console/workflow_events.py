"""Events Slack sends for a Workflow Builder step run and for a reaction, as the console and tests send them.

Field for field as Slack's SDKs' test data has them (``tests/data/slack_payloads/function_executed_*``
and ``reaction_added``): a ``function_executed`` carries the step's callback id, its inputs, the
execution's id and the workflow token valid while it runs; a ``reaction_added`` names the emoji, who
reacted, and the message (its channel and ts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def function_executed(
    callback_id: str, inputs: Mapping[str, str], *, execution_id: str, token: str
) -> dict[str, Any]:
    return {
        "type": "function_executed",
        "function": {"id": f"Fn{callback_id}", "callback_id": callback_id, "type": "app", "app_id": "A0CRM"},
        "inputs": dict(inputs),
        "function_execution_id": execution_id,
        "event_ts": f"{time.time():.6f}",
        "bot_access_token": token,
    }


def reaction_added(*, user: str, channel: str, ts: str, reaction: str, item_user: str = "") -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": reaction,
        "item_user": item_user or user,
        "event_ts": f"{time.time():.6f}",
    }
