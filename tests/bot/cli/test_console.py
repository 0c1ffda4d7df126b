"""`crm-bot console` driven through a pipe, as a script would: the real app, a local Slack, text out."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from crm_core.models import FollowUp, Interaction
from crm_core.store import make_engine, transaction, upgrade
from tests.conftest import CliResult
from tests.factories import customer

pytestmark = pytest.mark.end_to_end  # starts crm-bot processes or a Socket Mode server

Crm = Callable[..., CliResult]
TIMEOUT = 120


def run_console(store: str, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``printf 'lines…' | crm-bot console ARGS`` with DATABASE_URL at ``store``, stdin a pipe."""
    env = {**os.environ, "DATABASE_URL": store}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        env.pop(name, None)  # the console needs none of them
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "console", *args],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(store.removeprefix("sqlite:///")).parent,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A temporary SQLite store, migrated, as `crm-bot db upgrade` leaves it."""
    url = f"sqlite:///{tmp_path / 'console.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def rows(store: str, model: type[Interaction] | type[FollowUp]) -> list[tuple[str, str]]:
    engine: Engine = make_engine(store)
    with transaction(engine) as session:
        found = session.scalars(select(model).order_by(model.id)).all()
        values = [(r.kind, r.summary) if isinstance(r, Interaction) else (r.status, r.note) for r in found]
    engine.dispose()
    return values


def test_a_piped_session_answers_commands_presses_buttons_and_fills_in_a_form(store: str) -> None:
    engine = make_engine(store)
    with transaction(engine) as session:
        customer(session, "Acme Inc.", email="buyer@acme.example", company="Acme Holdings")
    engine.dispose()
    script = [
        "/crm help",
        "/crm find acme",
        "/crm log acme call Asked for a quote",
        "/crm followup acme tomorrow send the quote",
        "/crm mine",
        "1",  # Mark done
        "/crm find acme",
        "1",  # Log interaction: a form follows, one answer per line
        "",  # Customer: keep Acme Inc.
        "2",  # Kind: Meeting
        "Demo went well",
        "",  # When: today
        "-",  # no follow-up date
        "home",
        "exit",
        "/crm help",  # after exit: never read
    ]
    result = run_console(store, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "How to use /crm" in out and "`/crm log <customer> <kind> <summary…>`" in out
    assert "Acme Inc.\n" in out and "Acme Holdings" in out and "buyer@acme.example" in out
    assert "Logged: Call with Acme Inc." in out
    assert "Follow-up with Acme Inc. set for " in out
    # Due tomorrow, so each snooze names a day after it (tests/bot/listeners/test_snooze.py has the rule).
    snooze = r"Snooze to (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d"
    assert re.search(rf"\[1\] Mark done \[2\] {snooze} \[3\] {snooze} \[4\] Open", out)
    assert "crm> 1\nYou have no open follow-ups." in out
    assert "[1] Log interaction [2] Add follow-up" in out
    assert "Form “Log interaction”" in out and "Kind (number) [Call]: 2\n" in out
    assert "Logged: Meeting with Acme Inc." in out
    assert "Recently touched customers" in out and "last touched on" in out
    assert out.count("How to use /crm") == 1 and "Traceback" not in out + result.stderr
    assert rows(store, Interaction) == [("call", "Asked for a quote"), ("meeting", "Demo went well")]
    assert rows(store, FollowUp) == [("done", "send the quote")]


def test_an_empty_store_gets_a_note_and_the_console_speaks_japanese(store: str) -> None:
    script = [
        "/crm help",
        "/crm find 山田商事",
        "1",  # 顧客を作成: the new customer form
        "",  # 名前: keep 山田商事
        "not-an-e-mail",
        "",  # 電話番号: left empty (optional)
        "",  # 会社
        "-",  # メール, asked again after the app refused it
    ]
    result = run_console(store, script, "--lang", "ja")
    assert result.returncode == 0, result.stderr
    assert "crm-bot demo-data" in result.stderr  # on a pipe nothing is asked: it says how instead
    out = result.stdout
    assert "/crm の使い方" in out
    assert "「山田商事」に該当する顧客はいません。" in out and "[1] 顧客を作成" in out
    assert "メール: メールアドレスの形式が正しくありません。" in out
    assert "顧客 山田商事 を作成しました。" in out


def test_demo_loads_the_sample_data_and_a_sample_rep_sees_their_follow_ups(
    crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("/crm mine\n"))
    result = crm("console", "--demo", "--user", "U0SALES1")
    assert result.exit_code == 0, result.stderr
    assert "added 300 customers" in result.stdout
    assert "Your open follow-ups: " in result.stdout and "[1] Mark done" in result.stdout


def test_a_thread_said_in_the_console_is_logged_by_mention_and_by_the_shortcut(store: str) -> None:
    """say / reply make a thread; `@crm log acme` logs it, `shortcut` opens Log to CRM's form."""
    engine = make_engine(store)
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
        customer(session, "Acme LLC")
    engine.dispose()
    script = [
        "@crm log acme",  # no thread yet: the app says how mentions work
        "reply too early",
        "say Our order #42 has not arrived",
        "reply Sorry! Checking with the warehouse.",
        "@crm log acme",  # two Acmes: the candidates carry the thread
        "2",  # Choose: Acme LLC
        "say Can you send the invoice again?",
        "shortcut",  # Log to CRM: the form, prefilled with the message
        "Acme Inc.",  # Customer: search
        "1",  # the first match
        "",  # Kind: keep
        "",  # Summary: keep the message
        "",  # When: today
        "-",  # no follow-up date
        "exit",
    ]
    result = run_console(store, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Mention me inside a thread" in out
    assert "Start a thread first" in out
    assert "this thread is logged to them" in out
    assert "Logged this thread to Acme LLC's timeline (Support)." in out
    assert "Form “Log interaction”" in out
    assert "Traceback" not in out + result.stderr
    assert rows(store, Interaction) == [
        (
            "support",
            "@U0CONSOLE: Our order #42 has not arrived\n@U0CONSOLE: Sorry! Checking with the warehouse.",
        ),
        ("support", "@U0CONSOLE: Can you send the invoice again?"),
    ]
