"""The benchmark's load generator (bench/loadgen.py) against a real served app, at a tiny scale.

What ``bench/answers.py`` reports rests on it: each find's reply matched to its command (response
ids unique across runs, so a late reply is never taken for another run's), every log either kept
or refused and each kept one stored once, requests signed as Slack signs them (a wrong secret fails
the run instead of timing refusals), and replies beyond Block Kit's limits refused as the fake
Slack refuses them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from bench.dataset import REPS, add_team
from bench.latency import served_process
from bench.loadgen import CLIENTS, LoadGenerator, Receiver
from bench.serve import BOT_TOKEN, SIGNING_SECRET
from bot.blocks.limits import MAX_MESSAGE_BLOCKS
from bot.console.fake_web_api import FakeSlack
from crm_core.models import Interaction
from crm_core.store import transaction
from tests.factories import customer

NAMES = [f"Loadgen Customer {n:02d}" for n in range(CLIENTS)]


@pytest.fixture
def served_app(engine: Engine, database_url: str) -> Iterator[tuple[str, LoadGenerator]]:
    """The app served by ``bench.serve`` on a store of a few customers, and a load generator."""
    with transaction(engine) as session:
        add_team(session)
        for name in NAMES:
            customer(session, name, email=f"{name.split()[-1]}@loadgen.example")
    slack = FakeSlack(token=BOT_TOKEN)
    with (
        slack,
        LoadGenerator(SIGNING_SECRET) as load,
        served_process("app", database_url, slack) as (sender, _process),
    ):
        yield sender.url, load


def test_every_find_is_timed_until_its_own_reply(served_app: tuple[str, LoadGenerator]) -> None:
    url, load = served_app
    commands = [f"find {name}" for name in NAMES] * 2
    for _run in range(2):  # a second run in the same load generator, with the same commands
        found = load.closed_loop(url, commands, REPS, wait_reply=True)
        assert len(found.timings) == len(commands)
        assert all(t.reply is not None and t.reply > 0 and t.ack > 0 for t in found.timings)
        assert found.unexpected_replies == 0
        assert found.cpu_seconds > 0


def test_every_log_is_kept_or_refused_and_each_kept_one_stored_once(
    served_app: tuple[str, LoadGenerator], engine: Engine
) -> None:
    url, load = served_app
    seen_ids: set[str] = set()
    for run in range(2):
        commands = [
            f"log {n % CLIENTS:02d}@loadgen.example call loadgen-{run}-{n:03d}" for n in range(2 * CLIENTS)
        ]
        found = load.nonstop(url, commands, REPS)
        assert sorted(text for _id, text in found.acked + found.refused) == sorted(commands)
        response_ids = {response_id for response_id, _text in found.acked + found.refused}
        assert len(response_ids) == len(commands)
        assert not response_ids & seen_ids  # a reply to one run's command is never taken for another's
        seen_ids |= response_ids
        assert found.elapsed > 0
        with transaction(engine) as session:
            stored = dict(
                session.execute(
                    select(Interaction.summary, func.count())
                    .where(Interaction.summary.like(f"loadgen-{run}-%"))
                    .group_by(Interaction.summary)
                ).all()
            )
        kept = {text.rsplit(" ", 1)[1] for _id, text in found.acked}
        assert kept <= stored.keys()
        assert set(stored.values()) == {1}


def test_a_request_signed_with_another_secret_fails_the_run(
    served_app: tuple[str, LoadGenerator],
) -> None:
    url, _load = served_app
    with LoadGenerator("not-the-signing-secret") as wrong, pytest.raises(RuntimeError, match="HTTP 401"):
        wrong.closed_loop(url, [f"find {NAMES[0]}"], REPS, wait_reply=True)


def test_the_receiver_keeps_the_connection_and_refuses_what_slack_refuses() -> None:
    async def exchange() -> tuple[list[bytes], bool, bool, int]:
        receiver = Receiver()
        server = await receiver.start()
        good, too_many = receiver.expect("1.cmd1"), receiver.expect("1.cmd2")
        port = int(receiver.base_url.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        statuses = []
        for response_id, blocks in [
            ("1.cmd1", [{"type": "divider"}]),
            ("1.cmd2", [{"type": "divider"}] * (MAX_MESSAGE_BLOCKS + 1)),
            ("1.cmd1", []),  # a second reply to the same command
        ]:
            body = json.dumps({"text": "hi", "blocks": blocks}).encode()
            writer.write(
                f"POST /response/{response_id} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            statuses.append(head.split(b"\r\n")[0])
        writer.close()
        server.close()
        return statuses, good.done(), too_many.done(), receiver.unexpected

    statuses, good_recorded, too_many_recorded, unexpected = asyncio.run(exchange())
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Refused", b"HTTP/1.1 200 OK"]
    assert good_recorded and not too_many_recorded
    assert unexpected == 1
