"""``crm-bot serve`` and ``crm-bot run``: connect the app to Slack over HTTP or Socket Mode."""

from __future__ import annotations

import signal
import sys

import click
from slack_bolt import App

from bot.app import create_app
from bot.cli.app import CliContext, pass_context
from bot.jobs.alerts import AlertSender
from bot.jobs.digests import DigestSender, worker_name
from bot.jobs.scheduler import start_scheduler
from bot.log_lines import configure_logging
from bot.parsing.when import warm_up
from bot.request.deps import utc_now
from bot.request.people import People
from bot.slack_api.token_check import SlackUnusable, check_tokens
from bot.transport.collector import freeze_start_up
from bot.transport.http_server import DEFAULT_THREADS, EVENTS_PATH, HttpServer
from bot.transport.socket_mode import SocketModeConnection
from bot.transport.worker_processes import WorkerProcesses


def _app(context: CliContext, workers: int) -> App:
    """The app, with the digest scheduler ticking in the background (in every replica: bot.jobs.scheduler).

    Slack is asked first whether it takes the tokens, so a wrong one or no network ends here with
    what to do, before any worker or scheduler starts.
    """
    configure_logging()
    settings = context.settings
    if not settings.slack_app_token:
        settings.require("SLACK_SIGNING_SECRET")  # named before Slack is asked anything
    try:
        check_tokens(settings)
    except SlackUnusable as problem:
        raise click.ClickException(str(problem)) from None
    engine = context.engine()
    processes = WorkerProcesses(settings, workers) if workers else None
    if processes:
        processes.start()
    app = create_app(settings, engine, workers=processes, sweep_inbox=True)
    warm_up()  # load the date parser now, not during someone's first command
    sender = DigestSender(
        engine=engine,
        client=app.client,
        people=People(engine=engine, default_timezone=settings.timezone),
        default_timezone=settings.timezone,
        worker=worker_name(),
    )
    alerts = AlertSender(
        engine=engine, client=app.client, team_timezone=settings.timezone, worker=worker_name()
    )
    start_scheduler(sender, clock=utc_now, alerts=alerts)
    return app


def _exit_on_sigterm() -> None:
    """SIGTERM (docker stop, systemd, a scale-down) becomes a normal exit.

    Python's default is to die on the spot; a normal exit runs ``multiprocessing``'s exit hook,
    which stops the worker processes and releases their resources instead of leaving them behind.
    """
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))


def _serve(app: App, secret: str, host: str, port: int, threads: int) -> None:
    _exit_on_sigterm()
    server = HttpServer(app, signing_secret=secret, host=host, port=port, threads=threads)
    click.echo(f"crm-bot: serving Slack requests at {server.url}{EVENTS_PATH} ({threads} threads)", err=True)
    freeze_start_up()
    server.serve_forever()


WORKERS = click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    envvar="CRM_WORKERS",
    show_default=True,
    help="Worker processes for the work after each ack ($CRM_WORKERS); 0 runs it in threads here.",
)


@click.command()
@click.option("--port", type=int, required=True, help="Port to listen on.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, help="Request threads.")
@WORKERS
@pass_context
def serve(context: CliContext, port: int, host: str, threads: int, workers: int) -> None:
    """Serve Slack's requests over HTTP at POST /slack/events (and GET /healthz)."""
    secret = context.settings.require("SLACK_SIGNING_SECRET")
    _serve(_app(context, workers), secret, host, port, threads)


@click.command()
@click.option("--port", type=int, default=3000, envvar="PORT", show_default=True, help="HTTP port ($PORT).")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP address.")
@WORKERS
@pass_context
def run(context: CliContext, port: int, host: str, workers: int) -> None:
    """Connect to Slack: Socket Mode when SLACK_APP_TOKEN is set, else serve HTTP on $PORT."""
    app = _app(context, workers)
    if context.settings.slack_app_token:
        click.echo("crm-bot: connecting to Slack in Socket Mode", err=True)
        _exit_on_sigterm()
        freeze_start_up()
        SocketModeConnection(app, context.settings.slack_app_token).start()
    else:
        _serve(app, context.settings.require("SLACK_SIGNING_SECRET"), host, port, DEFAULT_THREADS)
