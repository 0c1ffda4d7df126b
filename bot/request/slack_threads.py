"""Logging a Slack thread: reading it (its messages as text, when it started, its permalink), and
the confirmation to give.

The text is what a colleague reading the customer's timeline needs: each message as ``@author:
text`` with Slack's markup spelled out, the bot's own messages and the ``@crm …`` requests left
out (they say nothing about the customer, and leaving them out means logging a thread twice in a
row stores the same text). Threads longer than a timeline entry takes are cut, with the cut marked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.as_text import slack_to_plain
from bot.blocks.limits import clip
from bot.parsing.grammar import UsageError
from crm_core.interactions.service import MAX_SUMMARY_LENGTH, Outcome, SlackThread

THREAD_KIND = "support"  # what a thread is logged as unless the person picks another kind
PAGE_SIZE = 200
MAX_MESSAGES = 1000
# What Slack answers when the bot may not read the conversation: it has to be invited first.
_NOT_READABLE = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True)
class FetchedThread:
    where: SlackThread
    text: str
    started_at: dt.datetime  # naive UTC, as the store keeps times

    def started_on(self, timezone: dt.tzinfo) -> dt.date:
        return self.started_at.replace(tzinfo=dt.UTC).astimezone(timezone).date()


def fetch_thread(client: WebClient, *, channel: str, thread_ts: str, bot_user_id: str) -> FetchedThread:
    """The thread whose parent message is ``thread_ts`` (``conversations.replies``, all pages)."""
    try:
        messages = _replies(client, channel, thread_ts)
        permalink = str(client.chat_getPermalink(channel=channel, message_ts=thread_ts)["permalink"])
    except SlackApiError as error:
        if error.response.get("error") in _NOT_READABLE:
            raise UsageError("usage.bot_not_in_channel") from error
        raise
    lines = [
        f"@{message.get('user') or message.get('username') or '?'}: {slack_to_plain(message['text'])}"
        for message in messages
        if message.get("text") and not _for_or_by_bot(message, bot_user_id)
    ]
    started_at = dt.datetime.fromtimestamp(float(thread_ts), dt.UTC).replace(tzinfo=None)
    return FetchedThread(
        SlackThread(channel, thread_ts, permalink), clip("\n".join(lines), MAX_SUMMARY_LENGTH), started_at
    )


def _replies(client: WebClient, channel: str, thread_ts: str) -> list[Mapping[str, Any]]:
    messages: list[Mapping[str, Any]] = []
    pages: Iterable[Any] = client.conversations_replies(channel=channel, ts=thread_ts, limit=PAGE_SIZE)
    for page in pages:  # the SDK follows next_cursor from page to page
        messages.extend(page.get("messages") or [])
        if len(messages) >= MAX_MESSAGES:
            break
    return messages[:MAX_MESSAGES]


def _for_or_by_bot(message: Mapping[str, Any], bot_user_id: str) -> bool:
    return message.get("user") == bot_user_id or str(message["text"]).startswith(f"<@{bot_user_id}>")


def confirmation_key(outcome: Outcome) -> str:
    """A thread is "logged" the first time and "updated" every later time (a message key)."""
    return "thread.logged" if outcome is Outcome.CREATED else "thread.updated"
