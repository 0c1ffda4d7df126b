"""Who is acting, and through which surface: every service that reads or writes a customer takes one."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

SURFACES = ("slack", "console", "cli", "scheduler", "import")


@dataclass(frozen=True)
class Actor:
    """``user_id`` is a Slack user id, or ``cli:<login>`` for the command line.

    ``role`` decides what the actor may see and do (``crm_core.access.policy``). None means the
    operator at the server (the CLI, imports, the scheduler): whoever runs those already holds the
    database, so refusing them would protect nothing; they act as admins. People in Slack always
    carry the role ``crm_core.access.resolve.resolve_access`` gave them.
    """

    user_id: str
    surface: str
    role: str | None = None


def cli_actor() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(user_id=f"cli:{login}", surface="cli")
