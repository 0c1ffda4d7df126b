"""One app process posting pending channel alerts, as the scheduler's alerts job does, for the replica drill.

    python -m tests.reliability.alert_worker DATABASE_URL SLACK_API_URL NOW WORKER [--stop-after-post]

With ``--stop-after-post`` the process stops right after Slack accepted its first alert, before
recording it (``mark_claim_sent`` is replaced), says ``posted`` on stdout and waits to be killed.
It prints its report as JSON when it finishes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from typing import Any

from bot.jobs import alerts
from bot.jobs.alerts import AlertSender
from bot.slack_api.web_api import make_web_client
from crm_core.config import Settings
from crm_core.store import make_engine
from tests.bot.conftest import BOT_TOKEN


def stop_before_recording(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for ``mark_claim_sent``: Slack has the alert, the store does not know yet; wait to die."""
    print("posted", flush=True)
    sys.stdin.read()  # until killed; the test never closes it


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("database_url", "slack_api_url", "now", "worker"):
        parser.add_argument(name)
    parser.add_argument("--stop-after-post", action="store_true")
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url, slack_bot_token=BOT_TOKEN, slack_api_url=args.slack_api_url
    )
    if args.stop_after_post:
        alerts.mark_claim_sent = stop_before_recording  # type: ignore[assignment]
    sender = AlertSender(
        engine=make_engine(args.database_url),
        client=make_web_client(settings),
        team_timezone="UTC",
        worker=args.worker,
    )
    report = sender.send_pending(dt.datetime.fromisoformat(args.now))
    print(json.dumps(dataclasses.asdict(report)), flush=True)


if __name__ == "__main__":
    main()
