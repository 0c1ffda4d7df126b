"""Who may use crm-bot at all, and in which role.

Decided per request by the surface that knows the person: only Slack knows whether someone is a
guest (``is_restricted`` / ``is_ultra_restricted``) or from another organisation in a shared channel
(their team id differs from the workspace's), so it passes that in as ``is_guest``. Guests are
refused before anything else, even when listed in ``CRM_ADMINS``: a guest account is not the person
the setting meant to trust. Then ``CRM_ADMINS`` are admins (from the very first start, before anyone
is in the team), team members have their role, and other full members get ``CRM_DEFAULT_ROLE``
(``none`` refuses them until an admin adds them).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.config import NO_ROLE
from crm_core.errors import Forbidden
from crm_core.models import TeamMember

ACCESS_ACTION = "access"  # the audit action of a refused guest or outsider
# Read on every request: built once, and only the role (no TeamMember object to build).
_ROLE = select(TeamMember.role).where(TeamMember.slack_user_id == bindparam("user_id"))


@dataclass(frozen=True)
class Access:
    """``role`` is None when the person may not use crm-bot; ``reason`` says which rule decided."""

    user_id: str
    role: str | None
    reason: str  # "guest", "admins_setting", "team", "default_role" or "not_in_team"

    def actor(self, *, surface: str) -> Actor:
        """The actor to hand to services; Forbidden (audited by the unit of work) when refused."""
        if self.role is not None:
            return Actor(user_id=self.user_id, surface=surface, role=self.role)
        refused = Actor(user_id=self.user_id, surface=surface, role=NO_ROLE)
        if self.reason == "guest":
            raise Forbidden(
                "Sorry, crm-bot does not show customer data to guests or to people from other organisations.",
                key="access.guest",
                actor=refused,
                action=ACCESS_ACTION,
            )
        raise Forbidden(
            "Sorry, you are not in the crm-bot team yet: ask an admin to add you.",
            key="access.not_in_team",
            actor=refused,
            action=ACCESS_ACTION,
        )


def role_of(session: Session, *, user_id: str, admins: Collection[str], default_role: str) -> str | None:
    """The role of a full member of the workspace, or None when they are refused."""
    return _decide(session, user_id=user_id, admins=admins, default_role=default_role).role


def resolve_access(
    session: Session | Connection, *, user_id: str, is_guest: bool, admins: Collection[str], default_role: str
) -> Access:
    """What ``user_id`` may do: pass ``settings.admins`` and ``settings.default_role``.

    ``session`` may be a bare connection: the role is one Core read.
    """
    if is_guest:
        return Access(user_id, None, "guest")
    return _decide(session, user_id=user_id, admins=admins, default_role=default_role)


def _decide(
    session: Session | Connection, *, user_id: str, admins: Collection[str], default_role: str
) -> Access:
    if user_id in admins:
        return Access(user_id, "admin", "admins_setting")
    role: str | None = session.scalar(_ROLE, {"user_id": user_id})
    if role is not None:
        return Access(user_id, role, "team")
    if default_role == NO_ROLE:
        return Access(user_id, None, "not_in_team")
    return Access(user_id, default_role, "default_role")
