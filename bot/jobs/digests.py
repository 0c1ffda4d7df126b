"""Posting digests to people's DMs, each exactly once, whatever the number of replicas.

For each due digest: claim it in the database (committed before anything is sent), post it with
message metadata carrying the claim key, then record Slack's ``ts``, and with it where the digest
names which customers (``crm_core.privacy.posted``, for an erasure). A failed post releases the
claim for a later tick. A retaken claim (a failed post, or a sender that died) may already have
been posted, so the DM is searched for that claim key before posting again: this closes the gap
between "posted" and "recorded" that a database alone cannot. For the same reason the post itself
is retried at once only after a 429; a timeout or a 5xx waits for that checked later attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from bot.blocks.digest import digest_fallback, render_digest
from bot.jobs.charts import render_trend_png
from bot.jobs.claimed_posts import find_claimed_post
from bot.request.people import People
from bot.slack_api.web_api import upload_file, without_ambiguous_retries
from crm_core.analytics.stored import kpi_history
from crm_core.digest.content import TeamSnapshot, digest_for, take_snapshot
from crm_core.digest.deliveries import Claim, claim_delivery, mark_failed, mark_sent, settled_deliveries
from crm_core.digest.schedule import DueDigest, due_digests, local_zone
from crm_core.digest.snapshots import keep_kpis
from crm_core.privacy.posted import PostKind, record_posted
from crm_core.store import reading, transaction
from crm_core.team.service import list_members

log = logging.getLogger(__name__)
METADATA_EVENT = "crm_digest"
CHART_WEEKDAY = 0  # Monday
CHART_PERIOD = dt.timedelta(weeks=8)


@dataclass(frozen=True)
class Post:
    """A digest in Slack: its DM channel, its ts, and the customers it names (external ids)."""

    channel: str
    ts: str
    customers: set[str]


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


@dataclass
class DigestSender:
    engine: Engine
    client: WebClient
    people: People
    default_timezone: str
    worker: str

    def send_due(self, now: dt.datetime) -> SendReport:
        """Every digest whose local time has come and that nobody has sent yet (the scheduler tick)."""
        self._learn_unknown_time_zones()
        with transaction(self.engine) as session:
            members = list_members(session)
            settled = settled_deliveries(session, since=now.date() - dt.timedelta(days=1))
        due = due_digests(members, now=now, default_timezone=self.default_timezone, delivered=settled)
        return self._deliver(due, now)

    def send_for_date(self, local_date: dt.date, now: dt.datetime) -> SendReport:
        """Every digest of ``local_date`` not yet delivered, now, whatever the members' digest times."""
        with transaction(self.engine) as session:
            members = list_members(session)
            settled = settled_deliveries(session, since=local_date)
        wanted = [m for m in members if m.digest_enabled]
        due = [DueDigest(m, local_date) for m in wanted if (m.slack_user_id, local_date) not in settled]
        report = self._deliver(due, now)
        report.skipped += len(wanted) - len(due)  # delivered earlier: the CLI says so
        return report

    def _learn_unknown_time_zones(self) -> None:
        """Ask Slack once for members whose time zone nobody set; People stores the answer."""
        with transaction(self.engine) as session:
            unknown = [m.slack_user_id for m in list_members(session) if m.effective_timezone is None]
        for user_id in unknown:
            self.people.lookup(self.client, user_id)

    def _deliver(self, due: list[DueDigest], now: dt.datetime) -> SendReport:
        report = SendReport()
        snapshots: dict[dt.date, TeamSnapshot] = {}
        for item in due:
            recipient = item.member.slack_user_id
            with transaction(self.engine) as session:
                claim = claim_delivery(
                    session,
                    recipient_id=recipient,
                    local_date=item.local_date,
                    worker=self.worker,
                    now=_naive(now),
                )
            if claim is None:
                report.skipped += 1
                continue
            try:
                posted = self._post_once(item, claim, snapshots)
            except Exception as error:  # one bad digest must not hold back the others
                code = (
                    error.response.get("error", "slack_error")
                    if isinstance(error, SlackApiError)
                    else type(error).__name__
                )
                expected = isinstance(error, (SlackApiError, SlackClientError, OSError))
                log.warning(
                    "digest for %s on %s not posted (%s); a later tick retries",
                    recipient,
                    item.local_date,
                    code,
                    exc_info=not expected,
                )
                with transaction(self.engine) as session:
                    mark_failed(session, claim=claim, error=str(code))
                report.failed[recipient] = str(code)
                continue
            with transaction(self.engine) as session:
                mark_sent(session, claim=claim, slack_ts=posted.ts, now=_naive(now))
                record_posted(
                    session,
                    customer_external_ids=posted.customers,
                    channel_id=posted.channel,
                    ts=posted.ts,
                    kind=PostKind.DIGEST,
                )
            report.sent.append(recipient)
        return report

    def _post_once(self, item: DueDigest, claim: Claim, snapshots: dict[dt.date, TeamSnapshot]) -> Post:
        channel = self.client.conversations_open(users=item.member.slack_user_id)["channel"]["id"]
        if item.local_date not in snapshots:
            snapshots[item.local_date] = self._snapshot(item.local_date)
        # Read even when an earlier attempt posted it: the customers it names are recorded either way.
        digest = digest_for(snapshots[item.local_date], item.member)
        if claim.retaken:
            posted = self._find_posted(channel, claim, local_zone(item.member, self.default_timezone))
            if posted is not None:
                return Post(channel, posted, digest.customers_named)
        language = self.people.lookup(self.client, item.member.slack_user_id).language
        answer = without_ambiguous_retries(self.client).chat_postMessage(
            channel=channel,
            text=digest_fallback(digest, language=language),
            blocks=render_digest(digest, language=language),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"claim_key": claim.claim_key}},
        )
        if digest.scope == "team" and item.local_date.weekday() == CHART_WEEKDAY:
            self._upload_trend_chart(channel, item.local_date)
        return Post(channel, str(answer["ts"]), digest.customers_named)

    def _upload_trend_chart(self, channel: str, local_date: dt.date) -> None:
        """Once a week, the managers' trend chart under their digest; a failure costs only the chart."""
        with transaction(self.engine) as session:
            points = kpi_history(session, since=local_date - CHART_PERIOD)
        if len(points) < 2:
            return
        try:
            upload_file(
                self.client,
                channel=channel,
                content=render_trend_png(points),
                filename=f"crm-trends-{local_date.isoformat()}.png",
                title=f"Churn risk and retention, weeks to {local_date.isoformat()}",
            )
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("trend chart for %s not uploaded (%s)", channel, type(error).__name__)

    def _snapshot(self, local_date: dt.date) -> TeamSnapshot:
        """Score the team as of ``local_date`` for the digests, and keep its KPIs for the trend chart.

        The customers' scores for profile cards are kept by their own job (bot.jobs.scheduler).
        The snapshot only reads: in a unit that reads (no write lock on SQLite, which every other
        writer would wait for through the whole morning job; PostgreSQL then reads it on two
        connections, see ``crm_core.analytics.snapshot_reads``).
        """
        with reading(self.engine) as session:
            snapshot = take_snapshot(session, local_date=local_date)
        try:
            with transaction(self.engine) as session:
                keep_kpis(session, snapshot)
        except IntegrityError:
            log.info("another process kept the KPIs of %s first", local_date)
        return snapshot

    def _find_posted(self, channel: str, claim: Claim, zone: ZoneInfo) -> str | None:
        """The ts of this digest if an earlier attempt posted it (its metadata names the claim)."""
        day_start = dt.datetime.combine(claim.local_date, dt.time(), tzinfo=zone).timestamp()
        return find_claimed_post(
            self.client,
            channel=channel,
            oldest=day_start,
            event_type=METADATA_EVENT,
            claim_key=claim.claim_key,
        )


def worker_name() -> str:
    """Names the claims this process takes, so an operator can tell replicas apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _naive(now: dt.datetime) -> dt.datetime:
    """The store keeps naive UTC."""
    return now.astimezone(dt.UTC).replace(tzinfo=None)
