"""Digests end to end against the fake Slack: local times, exactly once, retries, limits, buttons."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.blocks.digest import render_digest
from bot.blocks.limits import MAX_MESSAGE_BLOCKS, block_problems
from bot.console.fake_web_api import UPLOAD, FakeSlack
from bot.ids import ActionId, CallbackId, Field
from bot.jobs.digests import METADATA_EVENT, DigestSender
from bot.jobs.scheduler import start_scheduler
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from crm_core.actor import Actor
from crm_core.analytics.stored import TEAM_SCOPE, KpiPoint, record_kpis
from crm_core.config import Settings
from crm_core.digest.content import TeamSnapshot, digest_for, take_snapshot
from crm_core.digest.deliveries import STALE_CLAIM, claim_delivery, claim_key
from crm_core.follow_ups.service import add_follow_up
from crm_core.models import FollowUp
from crm_core.store import make_engine, transaction
from crm_core.team.service import add_member, get_member
from tests.bot.conftest import JA, SALES
from tests.bot.harness import SlackSender, button, opened_view
from tests.factories import customer

ADMIN = Actor(user_id="cli:admin", surface="cli")
BOSS = "U0BOSS"  # a manager in Tokyo
WEDNESDAY_0800_UTC = dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.UTC)  # 17:00 in Tokyo


@pytest.fixture
def team(engine: Engine, slack: FakeSlack) -> None:
    slack.add_user(BOSS, name="boss", locale="ja-JP", tz="Asia/Tokyo")
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id=BOSS, role="manager", timezone="Asia/Tokyo")
        add_member(session, actor=ADMIN, user_id=SALES, role="sales", timezone="UTC")
        acme = customer(session, "Acme Inc.", owner_id=SALES)
        add_follow_up(
            session,
            actor=Actor(SALES, "slack", "sales"),
            customer_external_id=acme.external_id,
            due_on=dt.date(2026, 3, 1),
            note="send the quote",
        )


def make_sender(engine: Engine, settings: Settings, worker: str = "test") -> DigestSender:
    return DigestSender(
        engine=engine,
        client=make_web_client(settings),
        people=People(engine=engine, default_timezone="UTC"),
        default_timezone="UTC",
        worker=worker,
    )


def digests_to(slack: FakeSlack, user: str) -> list[dict[str, object]]:
    return [
        m
        for m in slack.channel_history(f"D{user}")
        if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
    ]


@pytest.mark.usefixtures("team")
def test_each_member_gets_the_digest_at_their_local_time_once(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    sender = make_sender(engine, settings)
    first = sender.send_due(WEDNESDAY_0800_UTC)
    assert first.sent == [BOSS]  # 17:00 in Tokyo; 08:00 in UTC is before SALES's 09:00
    [boss_digest] = digests_to(slack, BOSS)
    assert "チームのダイジェスト（2026-03-04）" in str(boss_digest["blocks"])
    assert "Acme Inc." in str(boss_digest["blocks"])

    later = sender.send_due(WEDNESDAY_0800_UTC + dt.timedelta(hours=1, minutes=5))
    assert later.sent == [SALES]
    [sales_digest] = digests_to(slack, SALES)
    assert "Your digest for 2026-03-04" in str(sales_digest["blocks"])
    assert len(digests_to(slack, BOSS)) == 1

    assert sender.send_due(WEDNESDAY_0800_UTC + dt.timedelta(hours=5)).sent == []


@pytest.mark.usefixtures("team")
def test_no_digest_on_a_weekend_by_default(engine: Engine, settings: Settings) -> None:
    saturday_noon = dt.datetime(2026, 3, 7, 12, 0, tzinfo=dt.UTC)
    assert make_sender(engine, settings).send_due(saturday_noon).sent == []


@pytest.mark.usefixtures("team")
def test_a_failed_post_is_retried_on_a_later_tick_and_never_doubled(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=500)  # maybe posted, maybe not: not retried at once
    sender = make_sender(engine, settings)
    failed = sender.send_for_date(dt.date(2026, 3, 4), WEDNESDAY_0800_UTC)
    assert set(failed.failed) | set(failed.sent) == {BOSS, SALES}
    assert len(failed.failed) == 1
    retried = sender.send_for_date(dt.date(2026, 3, 4), WEDNESDAY_0800_UTC)
    assert retried.sent == list(failed.failed)
    assert len(digests_to(slack, BOSS)) == 1 and len(digests_to(slack, SALES)) == 1


@pytest.mark.usefixtures("team")
def test_a_digest_posted_by_a_sender_that_died_before_recording_it_is_not_posted_again(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    day = dt.date(2026, 3, 4)
    with transaction(engine) as session:
        claim = claim_delivery(
            session, recipient_id=SALES, local_date=day, worker="dead", now=dt.datetime(2026, 3, 4, 9)
        )
    assert claim is not None
    make_web_client(settings).chat_postMessage(  # what the dead sender managed to do
        channel=f"D{SALES}",
        text="digest",
        metadata={"event_type": METADATA_EVENT, "event_payload": {"claim_key": claim_key(SALES, day)}},
    )
    after_stale = dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC) + STALE_CLAIM + dt.timedelta(minutes=1)
    report = make_sender(engine, settings).send_for_date(day, after_stale)
    assert SALES in report.sent
    assert len(digests_to(slack, SALES)) == 1


@pytest.mark.usefixtures("team")
def test_concurrent_senders_deliver_each_digest_exactly_once(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    senders = [make_sender(engine, settings, worker=f"replica-{i}") for i in range(4)]
    barrier = threading.Barrier(len(senders))

    def run(sender: DigestSender) -> None:
        barrier.wait()
        sender.send_for_date(dt.date(2026, 3, 4), WEDNESDAY_0800_UTC)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(digests_to(slack, BOSS)) == 1
    assert len(digests_to(slack, SALES)) == 1


def test_a_long_digest_stays_within_slack_limits_and_says_how_many_more(engine: Engine) -> None:
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id=BOSS, role="manager")
        for i in range(60):
            c = customer(session, f"Customer {i} <!channel>", owner_id=SALES)
            add_follow_up(
                session,
                actor=Actor(SALES, "slack", "sales"),
                customer_external_id=c.external_id,
                due_on=dt.date(2026, 3, 1),
            )
        member = get_member(session, BOSS)
        snapshot = take_snapshot(session, local_date=dt.date(2026, 3, 4))
    assert member is not None
    blocks = render_digest(digest_for(snapshot, member), language="en")
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert block_problems(blocks) == []
    assert "and 50 more" in str(blocks[-1])
    assert "<!channel>" not in str(blocks)


@pytest.mark.usefixtures("team")
def test_done_and_reassign_buttons_on_the_digest(
    engine: Engine, settings: Settings, slack: FakeSlack, sender: SlackSender
) -> None:
    make_sender(engine, settings).send_for_date(dt.date(2026, 3, 4), WEDNESDAY_0800_UTC)
    posted = slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == f"D{SALES}")[0]

    reassign = sender.click(button(posted, ActionId.REASSIGN), channel=f"D{SALES}")
    assert reassign.answer.status == 200
    view = opened_view(slack)
    assert view["callback_id"] == CallbackId.REASSIGN_FOLLOW_UP
    assert sender.submit(view, {Field.OWNER: JA}).status == 200
    with transaction(engine) as session:
        [follow_up] = session.scalars(select(FollowUp)).all()
        assert (follow_up.owner_id, follow_up.status) == (JA, "open")

    done = sender.click(button(posted, ActionId.MARK_DONE), channel=f"D{SALES}")
    slack.wait_for_reply(done.response_id)
    with transaction(engine) as session:
        assert session.scalars(select(FollowUp.status)).one() == "done"
    assert len(digests_to(slack, SALES)) == 1  # the digest itself is left as it was sent


@pytest.mark.usefixtures("team")
def test_the_scheduler_ticks_at_start_so_digests_missed_while_down_go_out(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    scheduler = start_scheduler(make_sender(engine, settings), clock=lambda: WEDNESDAY_0800_UTC)
    try:
        slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == f"D{BOSS}")
    finally:
        scheduler.shutdown(wait=True)
    assert len(digests_to(slack, BOSS)) == 1
    assert digests_to(slack, SALES) == []  # not 09:00 in UTC yet


def test_managers_get_the_trend_chart_on_mondays(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    monday = dt.date(2026, 3, 9)
    with transaction(engine) as session:
        add_member(session, actor=ADMIN, user_id=BOSS, role="manager", timezone="UTC")
        add_member(session, actor=ADMIN, user_id=SALES, role="sales", timezone="UTC")
        for weeks_ago in (2, 1):
            record_kpis(
                session,
                owner_id=TEAM_SCOPE,
                point=KpiPoint(monday - dt.timedelta(weeks=weeks_ago), 10, 3, 1, 0, 0.5),
            )
    make_sender(engine, settings).send_for_date(monday, dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC))
    [upload] = slack.wait_for("files.completeUploadExternal")
    assert upload.params["channel_id"] == f"D{BOSS}"
    [received] = slack.calls_to(UPLOAD)
    assert received.params["size"] > 1000  # a real PNG, not an empty body
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1  # the rep gets no chart


@pytest.mark.usefixtures("team")
def test_a_post_that_timed_out_but_went_through_is_found_not_doubled(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    sender = make_sender(engine, settings)
    sender.client.timeout = 1
    slack.delay_next("chat.postMessage", 2)  # Slack posts it, but answers too late
    day = dt.date(2026, 3, 4)
    first = sender.send_for_date(day, WEDNESDAY_0800_UTC)
    assert len(first.failed) == 1 and len(first.sent) == 1
    [late] = first.failed
    slack.wait_for("chat.postMessage", count=2)  # the slow post lands after all
    second = sender.send_for_date(day, WEDNESDAY_0800_UTC)
    assert second.sent == [late]
    assert len(digests_to(slack, late)) == 1


@pytest.mark.usefixtures("team")
def test_a_rate_limited_post_waits_for_retry_after_and_goes_out_once(
    engine: Engine, settings: Settings, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    report = make_sender(engine, settings).send_for_date(dt.date(2026, 3, 4), WEDNESDAY_0800_UTC)
    assert sorted(report.sent) == sorted([BOSS, SALES]) and report.failed == {}
    assert len(digests_to(slack, BOSS)) == 1 and len(digests_to(slack, SALES)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 3  # one refused with 429, then two posts


@pytest.mark.usefixtures("team")
def test_while_the_digests_are_scored_other_writers_are_not_held(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot reads the whole store (seconds at a million customers): on SQLite a write lock
    held through it would stop every request that writes, in every process."""
    written: list[int] = []

    def snapshot_beside_a_writer(session: Session, *, local_date: dt.date) -> TeamSnapshot:
        snapshot = take_snapshot(session, local_date=local_date)
        writer = make_engine(engine.url.render_as_string(hide_password=False))  # another process's
        try:
            with transaction(writer) as other:
                written.append(customer(other, "Arrived Meanwhile").id)
        finally:
            writer.dispose()
        return snapshot

    monkeypatch.setattr("bot.jobs.digests.take_snapshot", snapshot_beside_a_writer)
    assert make_sender(engine, settings).send_due(WEDNESDAY_0800_UTC).sent == [BOSS]
    assert len(written) == 1
