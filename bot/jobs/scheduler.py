"""The scheduler inside ``crm-bot run`` and ``serve``: a tick every few minutes sends due digests.

Every replica runs it. APScheduler's job store cannot be shared between processes (its FAQ says
so), so it only decides *when* to look; *whether* to send is decided by the claims in the database,
which is what makes several replicas, restarts and a manual ``crm-bot digest --send`` safe.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.jobs.digests import DigestSender
from crm_core.actor import Actor
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


def start_scheduler(
    sender: DigestSender, *, clock: Callable[[], dt.datetime], minutes: int = TICK_MINUTES
) -> BackgroundScheduler:
    """Start ticking now (digests missed while down go out at once) and every ``minutes`` after."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.add_job(
        lambda: tick(sender, clock()),
        IntervalTrigger(minutes=minutes),
        id="digests",
        next_run_time=clock(),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler
