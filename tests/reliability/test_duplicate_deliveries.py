"""1,000 deliveries of the same events (Slack's retries of ``@crm log`` mentions) leave no duplicate.

Ten threads are each mentioned once and that event is delivered a hundred times, with Slack's retry
headers, from eight senders at once, so deliveries of one event race each other across the
listener threads. Each thread must end up as exactly one interaction, confirmed exactly once.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, func, select

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import SlackSender
from bot.transport.listener_pool import ListenerPool
from crm_core.models import Interaction
from crm_core.store import transaction
from tests.bot.conftest import SALES
from tests.factories import customer

BOT = FakeSlack.BOT_USER_ID
CHANNEL = "C0SUPPORT"
THREADS = [f"1772586{number:03d}.000100" for number in range(10)]
DELIVERIES_PER_EVENT = 100
SENDERS = 8
SETTLED = 60.0


def mention(thread_ts: str) -> dict[str, Any]:
    ts = thread_ts.replace(".000100", ".000900")
    text = f"<@{BOT}> log Acme"
    return {
        "type": "app_mention",
        "user": SALES,
        "text": text,
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
        "thread_ts": thread_ts,
    }


def test_a_thousand_retried_deliveries_log_each_thread_once(
    sender: SlackSender, slack: FakeSlack, engine: Engine, listeners: ListenerPool
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    for thread_ts in THREADS:
        slack.add_thread(
            CHANNEL,
            thread_ts,
            [
                {"user": "U0BUYER", "text": f"Question in {thread_ts}"},
                {"user": SALES, "ts": thread_ts.replace(".000100", ".000900"), "text": f"<@{BOT}> log Acme"},
            ],
        )
    # The first delivery of each event, then Slack's retries: X-Slack-Retry-Num 1, 2, 3, 1, 2, …
    deliveries = [
        (thread_ts, None if attempt == 0 else (attempt - 1) % 3 + 1)
        for attempt, thread_ts in itertools.product(range(DELIVERIES_PER_EVENT), THREADS)
    ]

    def deliver(delivery: tuple[str, int | None]) -> int:
        thread_ts, retry = delivery
        return sender.event(mention(thread_ts), event_id=f"Ev{thread_ts}", retry_num=retry).status

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        statuses = list(pool.map(deliver, deliveries))
    assert statuses == [200] * len(THREADS) * DELIVERIES_PER_EVENT
    assert listeners.settle(SETTLED)

    with transaction(engine) as session:
        per_thread = dict(
            session.execute(
                select(Interaction.slack_thread_ts, func.count()).group_by(Interaction.slack_thread_ts)
            ).all()
        )
    assert per_thread == dict.fromkeys(THREADS, 1)
    confirmed = [c.params["thread_ts"] for c in slack.delivered("chat.postMessage") if "Logged" in c.text]
    assert sorted(confirmed) == THREADS
    assert slack.delivered("chat.postEphemeral") == []  # nobody was told something failed
