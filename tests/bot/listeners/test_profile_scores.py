"""The profile card shows segment and churn risk before any scoring run has kept scores."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from bot.console.fake_web_api import FakeSlack
from crm_core.models import CustomerScore
from crm_core.store import transaction
from tests.bot.conftest import NOW
from tests.bot.harness import SlackSender
from tests.bot.listeners.test_commands import ask
from tests.factories import lapsing_buyer


def test_find_before_any_scoring_shows_segment_and_churn_risk_as_of_today(
    sender: SlackSender, slack: FakeSlack, engine: Engine
) -> None:
    with transaction(engine) as session:  # silent for 30 days before the clock's today
        lapsing_buyer(session, today=NOW.date(), name="Slipping Away Ltd", owner_id="U0SALES")
    card = ask(sender, slack, "find slipping away")
    assert "Segment" in card
    assert "At risk of churning" in card
    assert "usually buys every ~10 days; 30 days since the last order" in card
    with transaction(engine) as session:  # the card computed them; keeping them is the job's
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 0
