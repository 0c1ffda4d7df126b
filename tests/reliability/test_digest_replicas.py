"""Three app processes sending the day's digests at once on one store, one SIGKILLed mid-run.

The process killed has just had its first digest accepted by Slack and not yet recorded it: its
claim stays ``claimed``. The survivors skip it as in flight; once the claim is older than
``STALE_CLAIM`` a later tick takes it over, finds the digest in the DM by its claim key, and records
it instead of posting again. Every member gets their digest exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess

from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.jobs.digests import METADATA_EVENT
from crm_core.actor import Actor
from crm_core.digest.deliveries import STALE_CLAIM
from crm_core.models import DigestDelivery
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.factories import customer
from tests.reliability.replicas import PROCESS_SECONDS, finished, start_replica

MEMBERS = [f"U0REP{number:02d}" for number in range(1, 9)]
DAY = dt.date(2026, 3, 4)
NOW = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)


def start_worker(
    database_url: str, slack: FakeSlack, worker: str, now: dt.datetime, *extra: str
) -> subprocess.Popen[str]:
    return start_replica(
        "tests.reliability.digest_worker",
        database_url,
        slack.api_url,
        DAY.isoformat(),
        now.isoformat(),
        worker,
        *extra,
    )


def digests_by_member(slack: FakeSlack) -> dict[str, int]:
    counts = {}
    for member in MEMBERS:
        history = slack.channel_history(f"D{member}")
        counts[member] = sum((m.get("metadata") or {}).get("event_type") == METADATA_EVENT for m in history)
    return counts


def test_every_digest_goes_out_once_when_a_replica_dies_mid_run(engine: Engine, database_url: str) -> None:
    with transaction(engine) as session:
        for member in MEMBERS:
            add_member(session, actor=Actor("cli:admin", "cli"), user_id=member, role="sales", timezone="UTC")
            customer(session, f"Customer of {member}", owner_id=member)
    with FakeSlack(token="xoxb-test-bot-token") as slack:
        doomed = start_worker(database_url, slack, "doomed", NOW, "--stop-after-post")
        assert doomed.stdout is not None
        assert doomed.stdout.readline().strip() == "posted"
        survivors = [start_worker(database_url, slack, name, NOW) for name in ("second", "third")]
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=PROCESS_SECONDS)
        reports = [finished(process) for process in survivors]
        with transaction(engine) as session:
            in_flight = session.scalars(
                select(DigestDelivery).where(DigestDelivery.status == "claimed")
            ).all()
            assert [(d.claimed_by, d.recipient_id) for d in in_flight] == [
                ("doomed", in_flight[0].recipient_id)
            ]
        assert sum(len(r["sent"]) for r in reports) == len(MEMBERS) - 1

        later = NOW + STALE_CLAIM + dt.timedelta(minutes=1)
        retry = finished(start_worker(database_url, slack, "second", later))
        assert retry["sent"] == [in_flight[0].recipient_id]
        assert digests_by_member(slack) == dict.fromkeys(MEMBERS, 1)
        assert len(slack.calls_to("chat.postMessage")) == len(MEMBERS)
    with transaction(engine) as session:
        statuses = session.execute(select(DigestDelivery.recipient_id, DigestDelivery.status)).all()
    assert sorted(statuses) == [(member, "sent") for member in MEMBERS]
