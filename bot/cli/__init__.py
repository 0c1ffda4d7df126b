"""The ``crm-bot`` command line. Each sub-command group lives in its own module of this package."""

from __future__ import annotations

# Importing a module registers its sub-commands on ``cli``.
from bot.cli import (  # noqa: F401
    analytics,
    audit,
    console,
    customers,
    db,
    demo,
    digest,
    io,
    privacy,
    rules,
    slack,
    team,
)
from bot.cli.app import cli, main

__all__ = ["cli", "main"]
