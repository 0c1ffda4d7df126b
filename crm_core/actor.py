"""Who is acting, and through which surface: every service that reads or writes a customer takes one."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

SURFACES = ("slack", "console", "cli", "scheduler", "import")


@dataclass(frozen=True)
class Actor:
    """``user_id`` is a Slack user id, or ``cli:<login>`` for the command line."""

    user_id: str
    surface: str


def cli_actor() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(user_id=f"cli:{login}", surface="cli")
