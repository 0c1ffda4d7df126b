"""Finding a post by its claim key, before posting a retaken claim again (digests, channel alerts).

A sender that died after Slack accepted its post but before recording it leaves a claim that
another sender retakes; the post carries the claim key in its message metadata, so the channel's
history since the claim's day or event tells whether it is already there.
"""

from __future__ import annotations

from slack_sdk import WebClient


def find_claimed_post(
    client: WebClient, *, channel: str, oldest: float, event_type: str, claim_key: str
) -> str | None:
    """The ts of the message in ``channel`` since ``oldest`` whose metadata names ``claim_key``."""
    history = client.conversations_history(
        channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
    )
    for message in history.get("messages") or []:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == event_type and payload.get("claim_key") == claim_key:
            return str(message["ts"])
    return None
