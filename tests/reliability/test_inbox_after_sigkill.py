"""Drill: ``crm-bot serve --workers 2`` SIGKILLed with acknowledged commands queued, then started again.

Before the inbox, what was acknowledged waited in process memory, and a SIGKILL lost every queued
command (Slack does not resend what was acknowledged). Here some commands are answered first, then
twenty more are acknowledged while the workers wait on Slack (``users.info`` held), the server and its
workers are killed outright, and a new server is started on the same store: every acknowledged
command ends stored exactly once and answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.console.fake_web_api import FakeSlack
from bot.console.signed_requests import SlackSender
from crm_core.models import InboxEntry, Interaction
from crm_core.store import transaction
from tests.bot.cli.test_slack import SECRET, TOKEN, start_serve, wait_until_healthy
from tests.factories import customer

pytestmark = pytest.mark.skipif(not Path("/proc").exists(), reason="kills a process group (Linux)")

ANSWERED_FIRST = 5
QUEUED = 20


@contextmanager
def server(database_url: str, slack: FakeSlack) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``crm-bot serve --workers 2`` in a process group of its own (its workers are in it too)."""
    url, process = start_serve(database_url, slack, "--workers", "2", start_new_session=True)
    try:
        wait_until_healthy(url, process, timeout=60)
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_acked_commands_survive_a_sigkill_and_are_stored_once_and_answered(
    engine: Engine, database_url: str
) -> None:
    with transaction(engine) as session:
        customer(session, "Acme Inc.")
    with FakeSlack(token=TOKEN) as slack:
        reps = [f"U0REP{n:03d}" for n in range(QUEUED)]
        for rep in ["U0SALES", *reps]:
            slack.add_user(rep, name=rep.lower(), locale="en-US", tz="UTC")
        with server(database_url, slack) as (url, process):
            sender = SlackSender(url, SECRET, slack)
            first = [sender.command(f"log acme call first {n}") for n in range(ANSWERED_FIRST)]
            for sent in first:
                slack.wait_for_reply(sent.response_id, timeout=30)
            # Each new rep makes a worker ask Slack who they are; Slack does not answer yet.
            slack.hold_next("users.info", times=QUEUED)
            queued = [sender.command(f"log acme call queued {n}", user=rep) for n, rep in enumerate(reps)]
            assert all((sent.answer.status, sent.answer.body) == (200, "") for sent in queued)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        slack.release_holds()
        assert all(slack.replies(sent.response_id) == [] for sent in queued), "answered before the kill"

        with server(database_url, slack) as (url, _):
            for sent in [*first, *queued]:
                slack.wait_for_reply(sent.response_id, timeout=60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _waiting(engine):
                time.sleep(0.1)
            assert _waiting(engine) == 0
        for sent in [*first, *queued]:
            [reply] = slack.replies(sent.response_id)
            assert "Logged" in reply.text

    with transaction(engine) as session:
        summaries = sorted(session.scalars(select(Interaction.summary)))
    expected = [f"first {n}" for n in range(ANSWERED_FIRST)] + [f"queued {n}" for n in range(QUEUED)]
    assert summaries == sorted(expected)


def _waiting(engine: Engine) -> int:
    with transaction(engine) as session:
        return len(session.scalars(select(InboxEntry.id).where(InboxEntry.done_at.is_(None))).all())
