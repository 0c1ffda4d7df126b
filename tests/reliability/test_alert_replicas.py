"""Three app processes posting channel alerts at once on one store, one SIGKILLed mid-run.

The process killed has just had its first alert accepted by Slack and not yet recorded it: its
claim stays ``claimed``. The survivors skip it as in flight and post the rest, each once; once the
claim is older than ``STALE_CLAIM`` a later round takes it over, finds the alert in the channel by
its claim key, and records it instead of posting again. Every channel gets every alert once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess

from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.jobs.alerts import METADATA_EVENT
from crm_core.actor import Actor
from crm_core.alerts.subscriptions import subscribe
from crm_core.alerts.topics import Topic
from crm_core.delivery.claims import STALE_CLAIM
from crm_core.interactions.service import log_interaction
from crm_core.models import AlertDelivery
from crm_core.store import transaction
from tests.factories import customer
from tests.reliability.replicas import PROCESS_SECONDS, finished, start_replica

CHANNELS = ["C0ALERT1", "C0ALERT2", "C0ALERT3"]
CASES = 4
OPERATOR = Actor("cli:admin", "cli")


def start_worker(
    database_url: str, slack: FakeSlack, worker: str, now: dt.datetime, *extra: str
) -> subprocess.Popen[str]:
    return start_replica(
        "tests.reliability.alert_worker", database_url, slack.api_url, now.isoformat(), worker, *extra
    )


def alerts_by_channel(slack: FakeSlack) -> dict[str, list[str]]:
    return {
        channel: sorted(
            m["metadata"]["event_payload"]["claim_key"]
            for m in slack.channel_history(channel)
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
        )
        for channel in CHANNELS
    }


def test_an_alert_is_posted_exactly_once_per_channel_with_three_processes_one_killed(
    engine: Engine, database_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    with transaction(engine) as session:
        for channel in CHANNELS:
            subscribe(
                session, actor=OPERATOR, channel_id=channel, topic=Topic.SUPPORT, owner_id=None, language="en"
            )
    with transaction(engine) as session:
        for number in range(CASES):
            made = customer(session, f"Replica Customer {number}")
            log_interaction(
                session,
                actor=OPERATOR,
                customer_external_id=made.external_id,
                kind="support",
                summary="broken",
                occurred_at=now.replace(tzinfo=None),
            )
    with FakeSlack(token="xoxb-test-bot-token") as slack:
        doomed = start_worker(database_url, slack, "doomed", now, "--stop-after-post")
        assert doomed.stdout is not None
        assert doomed.stdout.readline().strip() == "posted"
        survivors = [start_worker(database_url, slack, name, now) for name in ("second", "third")]
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=PROCESS_SECONDS)
        reports = [finished(process) for process in survivors]
        expected = len(CHANNELS) * CASES
        assert sum(len(r["sent"]) for r in reports) == expected - 1
        with transaction(engine) as session:
            in_flight = session.scalars(select(AlertDelivery).where(AlertDelivery.status == "claimed")).all()
            assert [d.claimed_by for d in in_flight] == ["doomed"]

        later = now + STALE_CLAIM + dt.timedelta(minutes=1)
        retry = finished(start_worker(database_url, slack, "second", later))
        assert retry["sent"] == [in_flight[0].claim_key]
        by_channel = alerts_by_channel(slack)
        assert all(len(keys) == CASES == len(set(keys)) for keys in by_channel.values()), by_channel
        assert len(slack.calls_to("chat.postMessage")) == expected
    with transaction(engine) as session:
        statuses = session.scalars(select(AlertDelivery.status)).all()
    assert statuses == ["sent"] * expected
