"""``crm-bot --help`` and a bare ``crm-bot`` answer without importing what only commands need."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from bot.cli.app import SUBCOMMANDS, cli

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "sqlalchemy", "alembic", "slack_bolt", "phonenumbers")

SHOW_WHAT_HELP_IMPORTED = f"""
import sys
from bot.cli import main
main(sys.argv[1:])
print("imported:", ",".join(name for name in {HEAVY!r} if name in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], []], ids=["--help", "bare crm-bot"])
def test_help_lists_every_command_and_imports_nothing_heavy(argv: list[str]) -> None:
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_WHAT_HELP_IMPORTED, *argv], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and shown.stderr == ""
    assert all(f"  {name} " in shown.stdout for name in SUBCOMMANDS)
    assert shown.stdout.rstrip().endswith("imported:")


def test_every_listed_command_exists_with_its_own_help() -> None:
    context = click.Context(cli)
    for name in SUBCOMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command) and command.help, name
