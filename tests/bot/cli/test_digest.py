"""`crm-bot digest --print` without Slack, and its bad-input messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from bot.console.fake_web_api import FakeSlack
from crm_core.actor import Actor
from crm_core.follow_ups.service import add_follow_up
from crm_core.store import transaction
from crm_core.team.service import add_member
from tests.conftest import CliResult
from tests.factories import TEST_ACTOR, customer

Crm = Callable[..., CliResult]


def _store(engine: Engine) -> None:
    with transaction(engine) as session:
        add_member(session, actor=TEST_ACTOR, user_id="U0REP", role="sales", locale="ja-JP")
        add_member(session, actor=TEST_ACTOR, user_id="U0OTHER", role="sales")
        for name, owner, note in (("Acme Inc.", "U0REP", "send the quote"), ("Globex", "U0OTHER", "call")):
            c = customer(session, name, owner_id=owner)
            add_follow_up(
                session,
                actor=Actor(owner, "slack", "sales"),
                customer_external_id=c.external_id,
                due_on=dt.date(2026, 11, 20),
                note=note,
            )


def test_print_shows_the_team_view_by_default(crm: Crm, engine: Engine) -> None:
    _store(engine)
    result = crm("digest", "--print", "--date", "2026-11-25")
    assert result.exit_code == 0, result.stderr
    assert "Team digest for 2026-11-25" in result.stdout
    assert "Overdue follow-ups (2)" in result.stdout
    assert "Acme Inc. · @U0REP · due 2026-11-20 — send the quote" in result.stdout
    assert "[Mark done]" in result.stdout


def test_print_for_a_rep_shows_only_their_own_in_their_language(crm: Crm, engine: Engine) -> None:
    _store(engine)
    result = crm("digest", "--print", "--date", "2026-11-25", "--user", "U0REP")
    assert result.exit_code == 0, result.stderr
    assert "あなたのダイジェスト（2026-11-25）" in result.stdout
    assert "Acme Inc." in result.stdout and "Globex" not in result.stdout
    english = crm("digest", "--print", "--date", "2026-11-25", "--user", "U0REP", "--lang", "en")
    assert "Your digest for 2026-11-25" in english.stdout


def test_bad_digest_requests_are_one_line_errors(crm: Crm, engine: Engine) -> None:
    _store(engine)
    for args, expected in [
        (("digest",), "--print"),
        (("digest", "--print", "--send"), "--print"),
    ]:
        result = crm(*args)
        assert result.exit_code == 2
        assert expected in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_print_for_someone_not_in_the_team_shows_what_the_default_role_gets(crm: Crm, engine: Engine) -> None:
    _store(engine)
    result = crm("digest", "--print", "--date", "2026-11-25", "--user", "U0NEWCOMER")
    assert result.exit_code == 0, result.stderr
    assert (
        result.stderr
        == "crm-bot: U0NEWCOMER is not in the team yet: the digest as their role sales would get it\n"
    )
    # A sales rep's digest holds their own follow-ups: a newcomer has none yet.
    assert "Your digest for 2026-11-25" in result.stdout
    assert "Acme Inc." not in result.stdout and "Globex" not in result.stdout


def test_print_for_someone_not_in_the_team_when_newcomers_are_refused(
    crm: Crm, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(engine)
    monkeypatch.setenv("CRM_DEFAULT_ROLE", "none")
    result = crm("digest", "--print", "--user", "U0NEWCOMER")
    assert result.exit_code == 2
    assert "not in the team and CRM_DEFAULT_ROLE is none" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_send_needs_a_bot_token(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = crm("digest", "--send")
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr


def test_send_posts_each_undelivered_digest_of_the_day_once(
    crm: Crm, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(engine)
    with FakeSlack(token="xoxb-cli-test") as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli-test")
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        first = crm("digest", "--send", "--date", "2026-11-25")
        again = crm("digest", "--send", "--date", "2026-11-25")
        posted = slack.calls_to("chat.postMessage")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "sent 2 digests for 2026-11-25; 0 already sent or being sent\n"
    assert again.stdout == "sent 0 digests for 2026-11-25; 2 already sent or being sent\n"
    assert sorted(call.params["channel"] for call in posted) == ["DU0OTHER", "DU0REP"]
