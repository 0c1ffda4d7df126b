"""A server process for the latency benchmark: the real app, or the bare Bolt floor, on waitress.

Run in a process of its own so that the load generator and the fake Slack (in the benchmark's
process) do not share its interpreter lock: what is measured is the server, as ``crm-bot serve``
runs it. It prints its port on the first line of stdout and serves until killed.

    python -m bench.serve app|floor --database-url URL --slack-api-url URL [--workers N]
"""

from __future__ import annotations

import argparse
import signal
import sys

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.app import create_app
from bot.transport.collector import freeze_start_up
from bot.transport.http_server import HttpServer
from bot.transport.worker_processes import WorkerProcesses
from crm_core.config import Settings
from crm_core.store import make_engine

BOT_TOKEN = "xoxb-bench-bot-token"
SIGNING_SECRET = "bench-signing-secret-0123456789"


def floor_app(slack_api_url: str) -> App:
    """The framework's floor: Bolt acking ``/crm`` with nothing, and no other work at all."""
    app = App(
        name="floor",
        client=WebClient(token=BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=False,
    )

    @app.command("/crm")
    def acknowledge(ack: Ack) -> None:
        ack()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=("app", "floor"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--slack-api-url", required=True)
    parser.add_argument(
        "--workers", type=int, default=0, help="the app's worker processes (crm-bot serve --workers)"
    )
    args = parser.parse_args()
    if args.kind == "floor":
        app = floor_app(args.slack_api_url)
    else:
        settings = Settings(
            database_url=args.database_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=args.slack_api_url,
            timezone="Asia/Tokyo",
        )
        workers = WorkerProcesses(settings, args.workers) if args.workers else None
        if workers:
            workers.start()
        app = create_app(settings, make_engine(args.database_url), workers=workers)
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))  # as crm-bot serve does
    server = HttpServer(app, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0)
    print(server.port, flush=True)
    freeze_start_up()  # as crm-bot serve does
    server.serve_forever()


if __name__ == "__main__":
    main()
