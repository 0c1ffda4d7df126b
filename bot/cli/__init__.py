"""The ``crm-bot`` command line. Each sub-command group lives in its own module of this package."""

from __future__ import annotations

from bot.cli import customers, db, rules, team  # noqa: F401  (registers the sub-commands)
from bot.cli.app import cli, main

__all__ = ["cli", "main"]
