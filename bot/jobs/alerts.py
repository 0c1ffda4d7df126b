"""Posting channel alerts, each exactly once per channel, whatever the number of replicas.

Events are recorded in the transaction of what caused them (``crm_core.alerts``); this posts them.
Each (event, channel) is claimed in the database before posting (``crm_core.delivery.claims``, as
digests are), posted with message metadata carrying the claim key, and its ``ts`` recorded after.
A retaken claim (a failed post, a sender that died) is first looked for in the channel's history
by that key, so a post whose record was lost is not made twice. The post is retried at once only
after a 429; a timeout or 5xx waits for that checked later attempt.

Two things make it run: the scheduler's round in every replica (which also records the follow-ups
that became overdue), and a nudge after each request whose transaction recorded an event
(``Deps.alerts``), so an alert follows its cause within a second rather than a round. A channel
the bot is not in answers ``not_in_channel``: the claim is released and retried, and given up
after ``MAX_ATTEMPTS``; ``/crm subscribe`` already told the person how to invite the bot.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine

from bot.blocks.alerts import alert_text, render_alert
from bot.jobs.claimed_posts import find_claimed_post
from bot.jobs.digests import worker_name
from bot.slack_api.web_api import without_ambiguous_retries
from crm_core.alerts.overdue import record_overdue_follow_ups
from crm_core.alerts.pending import PendingAlert, alert_claim_key, pending_alerts
from crm_core.delivery.claims import Taken, mark_claim_failed, mark_claim_sent, take_claim
from crm_core.models import AlertDelivery
from crm_core.privacy.posted import PostKind, record_posted
from crm_core.store import transaction

log = logging.getLogger(__name__)
METADATA_EVENT = "crm_alert"
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass
class AlertReport:
    sent: list[str] = field(default_factory=list)  # claim keys
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


@dataclass
class AlertSender:
    engine: Engine
    client: WebClient
    team_timezone: str
    worker: str

    def send_pending(self, now: dt.datetime) -> AlertReport:
        """Record the follow-ups overdue by now, then post every alert nobody has posted yet."""
        today = now.astimezone(ZoneInfo(self.team_timezone)).date()
        with transaction(self.engine) as session:
            record_overdue_follow_ups(session, today=today)
        with transaction(self.engine) as session:
            pending = pending_alerts(session, now=_naive(now))
        report = AlertReport()
        for alert in pending:
            self._deliver(alert, now, report)
        return report

    def _deliver(self, alert: PendingAlert, now: dt.datetime, report: AlertReport) -> None:
        with transaction(self.engine) as session:
            claim = take_claim(
                session,
                AlertDelivery,
                claim_key=alert.claim_key,
                values={"event_id": alert.event_id, "channel_id": alert.channel_id},
                worker=self.worker,
                now=_naive(now),
            )
        if claim is None:
            report.skipped += 1
            return
        try:
            ts = self._post_once(alert, claim)
        except (SlackApiError, SlackClientError, OSError) as error:
            code = (
                error.response.get("error", "slack_error")
                if isinstance(error, SlackApiError)
                else type(error).__name__
            )
            log.warning("alert %s not posted (%s); a later round retries", claim.claim_key, code)
            with transaction(self.engine) as session:
                mark_claim_failed(session, AlertDelivery, row_id=claim.row_id, error=str(code))
            report.failed[claim.claim_key] = str(code)
            return
        with transaction(self.engine) as session:
            mark_claim_sent(session, AlertDelivery, row_id=claim.row_id, slack_ts=ts, now=_naive(now))
            record_posted(
                session,
                customer_external_ids=[alert.customer.external_id],
                channel_id=alert.channel_id,
                ts=ts,
                kind=PostKind.SHARED_CARD,
            )
        report.sent.append(claim.claim_key)

    def _post_once(self, alert: PendingAlert, claim: Taken) -> str:
        if claim.retaken:
            posted = self._find_posted(alert)
            if posted is not None:
                return posted
        answer = without_ambiguous_retries(self.client).chat_postMessage(
            channel=alert.channel_id,
            text=alert_text(alert),
            blocks=render_alert(alert),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"claim_key": claim.claim_key}},
            unfurl_links=False,
        )
        return str(answer["ts"])

    def _find_posted(self, alert: PendingAlert) -> str | None:
        """The ts of this alert if an earlier attempt posted it (its metadata names the claim)."""
        # From a little before the event: Slack's clock and ours need not agree to the second.
        oldest = (alert.occurred_at.replace(tzinfo=dt.UTC) - CLOCK_SKEW).timestamp()
        return find_claimed_post(
            self.client,
            channel=alert.channel_id,
            oldest=oldest,
            event_type=METADATA_EVENT,
            claim_key=alert_claim_key(alert.event_id, alert.channel_id),
        )


class AlertNudge:
    """Runs ``send`` on ``executor`` when nudged; nudges meanwhile make one more run, not one each."""

    def __init__(self, send: Callable[[], object], executor: Executor) -> None:
        self._send = send
        self._executor = executor
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def __call__(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self._executor.submit(self._run)

    def _run(self) -> None:
        while True:
            try:
                self._send()
            except Exception:  # the scheduler's round retries; a nudge must never take the app down
                log.exception("posting alerts failed; the next round retries")
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False


def post_alerts_as_they_happen(
    engine: Engine,
    client: WebClient,
    *,
    team_timezone: str,
    clock: Callable[[], dt.datetime],
    executor: Executor,
) -> AlertNudge:
    """What the app calls after a request whose transaction recorded an alert event (``Deps.alerts``)."""
    sender = AlertSender(engine=engine, client=client, team_timezone=team_timezone, worker=worker_name())
    return AlertNudge(lambda: sender.send_pending(clock()), executor)


def _naive(now: dt.datetime) -> dt.datetime:
    """The store keeps naive UTC."""
    return now.astimezone(dt.UTC).replace(tzinfo=None)
