"""Messages the bot posts where others read them and that name customers: posted, then recorded.

A thread confirmation or a shared card puts a customer's name in Slack, out of the store's reach.
Where it went (channel and ts, never the text) is recorded (``crm_core.privacy.posted``), so that
erasing the customer can list those messages and delete them. Slack gives the ts only once the
message is posted, and a writer posts only after its unit of work has committed (so nobody reads
"Logged" about a write that failed), so the record is written right after the post, in a short
transaction of its own, as ``reading`` writes its audit rows after the reads. A crash between the
two loses that one record, not the message. Nothing about the message or the customer is logged.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.blocks.limits import Block
from bot.parsing.grammar import UsageError
from bot.request.user_request import NOT_IN_CHANNEL, UserRequest
from crm_core.privacy.posted import PostKind, record_posted
from crm_core.store import transaction


def post_naming(
    request: UserRequest,
    *,
    customers: Collection[str],
    kind: PostKind,
    channel: str,
    text: str,
    blocks: list[Block] | None = None,
    **kwargs: Any,
) -> None:
    """Post in ``channel`` now and record that the message names ``customers`` (external ids).

    A writer calls it through ``request.send``, so that nothing is posted about a write that then
    failed. A channel the bot is not in is the asker's to fix, and told so; Slack's other errors
    reach the error handling as any post's would.
    """
    try:
        answer = request.client.chat_postMessage(channel=channel, text=text, blocks=blocks, **kwargs)
    except SlackApiError as error:
        if error.response.get("error") not in NOT_IN_CHANNEL:
            raise
        raise UsageError("usage.bot_not_in_channel") from error
    with transaction(request.engine) as session:
        record_posted(
            session,
            customer_external_ids=customers,
            channel_id=str(answer.get("channel") or channel),
            ts=str(answer["ts"]),
            kind=kind,
        )


def confirm_in_thread(
    request: UserRequest, *, customer: str, channel: str, thread_ts: str, text: str
) -> None:
    """The confirmation that a thread was logged to ``customer`` (external id), for everyone in it:
    posted once the unit of work has committed, and recorded as naming them."""
    request.send(
        lambda: post_naming(
            request,
            customers=[customer],
            kind=PostKind.THREAD_CONFIRMATION,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
        )
    )
