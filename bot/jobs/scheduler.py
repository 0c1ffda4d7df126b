"""The scheduler inside ``crm-bot run`` and ``serve``: every few minutes, scoring and due digests.

Every replica runs it. APScheduler's job store cannot be shared between processes (its FAQ says
so), so it only decides *when* to look; *whether* to act is decided in the database: the claims of
digests, which make several replicas, restarts and a manual ``crm-bot digest --send`` safe, and the
date of the kept scores under the scoring lock (``crm_core.analytics.scoring``), which makes the day
scored once. Jobs of their own, so a slow scoring never holds back a digest, nor a failing digest the
scores. The alerts job posts channel alerts (``bot.jobs.alerts``), claimed as digests are; the
scoring records its alerts (a VIP newly at risk, a customer won back) in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from bot.jobs.alerts import AlertSender
from bot.jobs.digests import DigestSender
from crm_core.actor import Actor
from crm_core.analytics.scoring import Outcome, score_if_due
from crm_core.rules.service import apply_follow_up_rules
from crm_core.store import transaction

log = logging.getLogger(__name__)
TICK_MINUTES = 5
SCHEDULER_ACTOR = Actor(user_id="scheduler", surface="scheduler")


def tick(sender: DigestSender, now: dt.datetime) -> None:
    """One round: follow-up rules for anything imported meanwhile, then the digests that are due."""
    with transaction(sender.engine) as session:
        apply_follow_up_rules(session, actor=SCHEDULER_ACTOR)
    report = sender.send_due(now)
    if report.sent or report.failed:
        log.info(
            "digests: %d sent, %d failed, %d left to others",
            len(report.sent),
            len(report.failed),
            report.skipped,
        )


def score_tick(engine: Engine, now: dt.datetime, team_timezone: str) -> None:
    """Score the day once it has begun where the team is (CRM_TIMEZONE): the first tick of the day
    in any replica scores, every other tick finds the scores kept and does nothing."""
    today = now.astimezone(ZoneInfo(team_timezone)).date()
    with transaction(engine) as session:
        run = score_if_due(session, today=today)
    if run.outcome is Outcome.SCORED:
        log.info("scores as of %s kept for %d customers", today, run.customers)


def alert_tick(alerts: AlertSender, now: dt.datetime) -> None:
    report = alerts.send_pending(now)
    if report.sent or report.failed:
        log.info("alerts: %d posted, %d failed", len(report.sent), len(report.failed))


def start_scheduler(
    sender: DigestSender,
    *,
    clock: Callable[[], dt.datetime],
    alerts: AlertSender | None = None,
    minutes: int = TICK_MINUTES,
) -> BackgroundScheduler:
    """Start ticking now (digests missed while down go out at once, a day not scored yet is scored)
    and every ``minutes`` after. Scores are dated in the team's time zone, the sender's default."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    jobs: dict[str, Callable[[], None]] = {
        "scoring": lambda: score_tick(sender.engine, clock(), sender.default_timezone),
        "digests": lambda: tick(sender, clock()),
    }
    if alerts is not None:  # follow-ups newly overdue, and alerts a nudge left (a process that died)
        jobs["alerts"] = lambda: alert_tick(alerts, clock())
    for job_id, job in jobs.items():
        scheduler.add_job(
            job,
            IntervalTrigger(minutes=minutes),
            id=job_id,
            next_run_time=clock(),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.start()
    return scheduler
