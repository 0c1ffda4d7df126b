"""One app process sending the day's digests, as ``crm-bot digest --send`` does, for the replica drill.

    python -m tests.reliability.digest_worker DATABASE_URL SLACK_API_URL DATE NOW WORKER [--stop-after-post]

With ``--stop-after-post`` the process stops right after Slack accepted its first digest, before
recording it (the worst moment to die: ``mark_sent`` is replaced), says ``posted`` on stdout and
waits to be killed. It prints
its report as JSON when it finishes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys

from sqlalchemy.orm import Session

from bot.jobs import digests
from bot.jobs.digests import DigestSender
from bot.request.people import People
from bot.slack_api.web_api import make_web_client
from crm_core.config import Settings
from crm_core.digest.deliveries import Claim
from crm_core.store import make_engine
from tests.bot.conftest import BOT_TOKEN


def stop_before_recording(session: Session, *, claim: Claim, slack_ts: str, now: dt.datetime) -> None:
    """Stands in for ``mark_sent``: Slack has the digest, the store does not know yet; wait to die."""
    print("posted", flush=True)
    sys.stdin.read()  # until killed; the test never closes it


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("database_url", "slack_api_url", "date", "now", "worker"):
        parser.add_argument(name)
    parser.add_argument("--stop-after-post", action="store_true")
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url, slack_bot_token=BOT_TOKEN, slack_api_url=args.slack_api_url
    )
    if args.stop_after_post:
        digests.mark_sent = stop_before_recording
    engine = make_engine(args.database_url)
    sender = DigestSender(
        engine=engine,
        client=make_web_client(settings),
        people=People(engine=engine, default_timezone="UTC"),
        default_timezone="UTC",
        worker=args.worker,
    )
    report = sender.send_for_date(dt.date.fromisoformat(args.date), dt.datetime.fromisoformat(args.now))
    print(json.dumps(dataclasses.asdict(report)), flush=True)


if __name__ == "__main__":
    main()
