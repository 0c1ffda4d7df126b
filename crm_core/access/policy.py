"""What each role may see and do: one table, enforced by the crm_core services for every surface.

The table is data (``GRANTS``), so the checks, ``crm-bot team roles`` and the README read the same
thing. Services call ``authorize`` before they read or write a customer; the refusal it raises is
audited by the unit of work (``crm_core.store.transaction``). Follow-ups are a shared promise to the
customer, so anyone in the team may close or snooze any of them (a colleague covers a call); every
change is audited with who made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from crm_core.actor import Actor
from crm_core.config import NO_ROLE, ROLES
from crm_core.errors import Forbidden

OPERATOR_ROLE = "admin"
"""The role of an actor without one: the operator at the server (see ``Actor``)."""
SLACK_SURFACE = "slack"


class Permission(StrEnum):
    """Each value is also the audit action recorded when the permission is refused."""

    FIND = "customer.find"
    READ = "customer.read"
    READ_REVENUE = "customer.revenue"
    CREATE = "customer.create"
    LOG = "interaction.log"
    FOLLOW_UP = "follow_up.change"
    TEAM_DIGEST = "digest.team"
    MERGE = "customer.merge"
    IMPORT = "import"
    EXPORT = "export"
    MANAGE_TEAM = "team.manage"
    READ_AUDIT = "audit.read"
    MANAGE_ALERTS = "alerts.manage"
    CAMPAIGN_LIST = "campaign.list"
    PRIVACY_EXPORT = "privacy.export"
    PRIVACY_ERASE = "privacy.erase"


@dataclass(frozen=True)
class Grant:
    """``description`` completes "may …" in the table and in refusals."""

    description: str
    roles: frozenset[str]


_EVERYONE = frozenset(ROLES)
_REVENUE = frozenset({"admin", "manager", "sales"})
_MANAGERS = frozenset({"admin", "manager"})
_ADMINS = frozenset({"admin"})

GRANTS: Mapping[Permission, Grant] = MappingProxyType(
    {
        Permission.FIND: Grant("find customers by name, e-mail, phone or external id", _EVERYONE),
        Permission.READ: Grant(
            "see a customer's profile: contact details, tags, timeline with thread links, open follow-ups",
            _EVERYONE,
        ),
        Permission.READ_REVENUE: Grant(
            "see revenue: purchases, totals, lifetime and predicted value", _REVENUE
        ),
        Permission.CREATE: Grant("add customers", _EVERYONE),
        Permission.LOG: Grant("log interactions", _EVERYONE),
        Permission.FOLLOW_UP: Grant("set, close, snooze and reassign follow-ups", _EVERYONE),
        Permission.TEAM_DIGEST: Grant(
            "get the team digest (everyone's follow-ups, churn risks and KPIs; others get their own)",
            _MANAGERS,
        ),
        Permission.MERGE: Grant("merge customer records", _ADMINS),
        Permission.IMPORT: Grant("import customers, purchases and interactions from files", _ADMINS),
        Permission.EXPORT: Grant("export all customers, purchases or interactions to files", _ADMINS),
        Permission.MANAGE_TEAM: Grant("add and remove team members and change their roles", _ADMINS),
        Permission.READ_AUDIT: Grant("read the audit log", _ADMINS),
        Permission.MANAGE_ALERTS: Grant(
            "subscribe a channel to alerts, and end its subscriptions", _MANAGERS
        ),
        Permission.CAMPAIGN_LIST: Grant(
            "get a campaign list (a segment, at risk, VIPs, won back) as a CSV file, with the columns "
            "their role may see",
            _EVERYONE,
        ),
        Permission.PRIVACY_EXPORT: Grant("export everything held about one customer, on request", _ADMINS),
        Permission.PRIVACY_ERASE: Grant("erase a customer's personal data, on request", _ADMINS),
    }
)


def effective_role(actor: Actor) -> str:
    """The role the table is read with. No role means the operator, except in Slack, where everyone
    is a person whose role was resolved: a Slack actor built without one is a bug, refused everything."""
    if actor.role is not None:
        return actor.role
    return NO_ROLE if actor.surface == SLACK_SURFACE else OPERATOR_ROLE


def may(role: str, permission: Permission) -> bool:
    return role in GRANTS[permission].roles


def can(actor: Actor, permission: Permission) -> bool:
    return may(effective_role(actor), permission)


def authorize(actor: Actor, permission: Permission, *, customer_id: int | None = None) -> None:
    """Raise Forbidden unless ``actor``'s role has ``permission``; ``customer_id`` is what they tried."""
    role = effective_role(actor)
    if may(role, permission):
        return
    grant = GRANTS[permission]
    if grant.roles == _ADMINS:
        message, key = f"Sorry, only admins may {grant.description}: ask one of them.", "access.admin_only"
    else:
        message = f"Sorry, your role ({role}) may not {grant.description}: ask an admin if you need to."
        key = "access.denied"
    raise Forbidden(
        message,
        key=key,
        params={"role": role, "permission": permission.value},
        actor=actor,
        action=permission.value,
        customer_id=customer_id,
    )


def permissions_table() -> str:
    """The table as Markdown, one row per permission, for the README and ``crm-bot team roles``."""
    lines = [f"| may … | {' | '.join(ROLES)} |", f"| --- |{' :---: |' * len(ROLES)}"]
    for grant in GRANTS.values():
        marks = " | ".join("✓" if role in grant.roles else "–" for role in ROLES)
        lines.append(f"| {grant.description} | {marks} |")
    return "\n".join(lines)
