"""The root ``crm-bot`` group, its shared context, and the one place CLI errors become messages.

Bad input anywhere ends as one line on stderr naming the problem and what to do, with a non-zero
exit; a traceback only with ``--debug``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from dotenv import load_dotenv
from sqlalchemy import Engine

from crm_core.actor import Actor, cli_actor
from crm_core.config import Settings, load_settings
from crm_core.errors import CrmError
from crm_core.identity.phones import use_phone_region
from crm_core.store import ensure_current, make_engine

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
            self._engine = make_engine(self.settings.database_url)
            if check_schema:
                ensure_current(
                    self._engine, auto_upgrade=self.settings.uses_default_store, also_accept=also_accept
                )
        return self._engine


pass_context = click.make_pass_decorator(CliContext)

# Each sub-command is imported only when it runs: pandas, scipy, matplotlib and the Slack app take
# seconds to import, and ``crm-bot find`` needs none of them (click's "lazily loading subcommands").
SUBCOMMANDS = {
    "analytics": "bot.cli.analytics:analytics",
    "audit": "bot.cli.audit:audit_command",
    "console": "bot.cli.console:console",
    "customers": "bot.cli.customers:customers",
    "db": "bot.cli.db:db",
    "demo-data": "bot.cli.demo:demo_data",
    "digest": "bot.cli.digest:digest",
    "export": "bot.cli.io:export_command",
    "find": "bot.cli.customers:find",
    "import": "bot.cli.io:import_command",
    "privacy": "bot.cli.privacy:privacy",
    "rules": "bot.cli.rules:rules",
    "run": "bot.cli.slack:run",
    "serve": "bot.cli.slack:serve",
    "team": "bot.cli.team:team",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """crm-bot: a CRM assistant that lives in Slack."""
    settings = load_settings()
    use_phone_region(settings.phone_region)  # before any phone is keyed, a migration's included
    ctx.obj = CliContext(settings=settings, debug=debug)


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
