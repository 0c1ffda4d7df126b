"""The ``crm-bot`` command line. Each sub-command lives in a module of this package, loaded when used."""

from __future__ import annotations

from bot.cli.app import cli, main

__all__ = ["cli", "main"]
