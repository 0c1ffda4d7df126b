"""The scheduler keeps the day's scores with a job of its own, whether or not anyone gets a digest."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import Engine, select

from bot.jobs.digests import DigestSender
from bot.jobs.scheduler import score_tick, start_scheduler
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from crm_core.config import Settings
from crm_core.models import CustomerScore, Purchase
from crm_core.store import transaction
from tests.factories import customer

EVENING_UTC = dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.UTC)  # already the 5th in Tokyo


def _buyer(engine: Engine) -> None:
    with transaction(engine) as session:
        buyer = customer(session, "Acme Inc.")
        for day in (1, 15):
            session.add(
                Purchase(
                    customer_id=buyer.id, occurred_at=dt.datetime(2026, 2, day), amount=100, currency="JPY"
                )
            )


def _scored_on(engine: Engine) -> list[dt.date]:
    with transaction(engine) as session:
        return list(session.scalars(select(CustomerScore.scored_on)))


def test_the_scheduler_scores_at_start_with_nobody_in_the_team(engine: Engine, settings: Settings) -> None:
    _buyer(engine)
    sender = DigestSender(
        engine=engine,
        client=make_web_client(settings),
        people=People(engine=engine, default_timezone="Asia/Tokyo"),
        default_timezone="Asia/Tokyo",
        worker="test",
    )
    scheduler = start_scheduler(sender, clock=lambda: EVENING_UTC)
    try:
        deadline = time.monotonic() + 30
        while not _scored_on(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert _scored_on(engine) == [dt.date(2026, 3, 5)]  # the team's date, not UTC's


def test_later_ticks_of_the_day_leave_the_kept_scores_alone(engine: Engine) -> None:
    _buyer(engine)
    score_tick(engine, EVENING_UTC, "UTC")
    with transaction(engine) as session:
        session.execute(CustomerScore.__table__.update().values(segment="kept"))
    score_tick(engine, EVENING_UTC + dt.timedelta(hours=3), "UTC")  # the same day in UTC
    with transaction(engine) as session:
        assert session.scalars(select(CustomerScore.segment)).all() == ["kept"]
    score_tick(engine, EVENING_UTC + dt.timedelta(hours=5), "UTC")  # the next day
    assert _scored_on(engine) == [dt.date(2026, 3, 5)]
