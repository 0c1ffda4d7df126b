"""The root ``crm-bot`` group, its shared context, and the one place CLI errors become messages.

Bad input anywhere ends as one line on stderr naming the problem and what to do, with a non-zero
exit; a traceback only with ``--debug``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click
from dotenv import load_dotenv

from crm_core.actor import Actor, cli_actor
from crm_core.config import Settings, load_settings
from crm_core.errors import CrmError

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 70


@dataclass
class CliContext:
    settings: Settings
    debug: bool
    actor: Actor = field(default_factory=cli_actor)
    _engine: Engine | None = None

    def engine(self, *, check_schema: bool = True, also_accept: frozenset[str] = frozenset()) -> Engine:
        """The store, refusing an out-of-date schema (the default SQLite file is upgraded in place)
        unless it is one of ``also_accept`` (see ``ensure_current``)."""
        if self._engine is None:
            from crm_core.identity.phones import use_phone_region
            from crm_core.store import ensure_current, make_engine  # SQLAlchemy and Alembic: when used

            use_phone_region(self.settings.phone_region)  # before any phone is keyed, a migration's included
            self._engine = make_engine(self.settings.database_url, pool_size=self.settings.db_pool_size)
            if check_schema:
                ensure_current(
                    self._engine, auto_upgrade=self.settings.uses_default_store, also_accept=also_accept
                )
        return self._engine


pass_context = click.make_pass_decorator(CliContext)

# Each sub-command is imported only when it runs: pandas, scipy, matplotlib, Alembic and the Slack app
# take seconds to import, and ``crm-bot find`` needs none of them (click's "lazily loading
# subcommands"). The one-line help shown by ``crm-bot --help`` is kept here for the same reason.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "analytics": ("bot.cli.analytics:analytics", "Churn model, per-customer scores and backtests."),
    "audit": ("bot.cli.audit:audit_command", "Who read or changed a customer's data, and when."),
    "console": ("bot.cli.console:console", "Try crm-bot in this terminal, without a Slack workspace."),
    "customers": ("bot.cli.customers:customers", "Create and merge customer records."),
    "db": ("bot.cli.db:db", "Manage the database schema."),
    "demo-data": ("bot.cli.demo:demo_data", "Fill an empty store with realistic sample data."),
    "digest": ("bot.cli.digest:digest", "Print or send the daily digests."),
    "export": ("bot.cli.export:export", "Export customers, purchases, interactions or a campaign list."),
    "find": ("bot.cli.customers:find", "Look a customer up by name, e-mail or phone."),
    "import": ("bot.cli.io:import_command", "Import customers, purchases or interactions (CSV or XLSX)."),
    "privacy": ("bot.cli.privacy:privacy", "Export or erase one customer's personal data, on their request."),
    "rules": ("bot.cli.rules:rules", "List, add and remove follow-up rules."),
    "run": ("bot.cli.slack:run", "Connect to Slack (Socket Mode with SLACK_APP_TOKEN, else HTTP)."),
    "serve": ("bot.cli.slack:serve", "Serve Slack's HTTP requests on a port."),
    "team": ("bot.cli.team:team", "Add, list and remove team members, and set their roles."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attribute = SUBCOMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(
    cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """crm-bot: a CRM assistant that lives in Slack."""
    if ctx.invoked_subcommand is None:  # a bare `crm-bot` asks what it can do: not a mistake
        click.echo(ctx.get_help())
        return
    ctx.obj = CliContext(settings=load_settings(), debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: loads ``.env`` (entry points only), runs, maps errors to exit codes.

    ``.env`` is the one in the working directory, where the README tells people to put it: without a
    path, python-dotenv would look upwards from the installed package's folder instead. Variables
    already in the environment win.
    """
    load_dotenv(dotenv_path=Path.cwd() / ".env", override=False)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="crm-bot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("crm-bot: aborted", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "crm-bot"
        click.echo(f"crm-bot: {exc.format_message()} See `{command} --help`.", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.ClickException as exc:
        click.echo(f"crm-bot: {exc.format_message()}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except CrmError as exc:
        if debug:
            raise
        click.echo(f"crm-bot: {exc.message}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        click.echo("crm-bot: interrupted; nothing from the interrupted step was saved", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"crm-bot: unexpected {type(exc).__name__}; nothing was changed. Run again with --debug "
            "and report the traceback",
            err=True,
        )
        sys.exit(EXIT_UNEXPECTED)
