"""The permission table: what each role may see and do, and how a refusal reads."""

from __future__ import annotations

import pytest

from crm_core.access.policy import GRANTS, Permission, authorize, can, permissions_table
from crm_core.actor import Actor
from crm_core.config import ROLES
from crm_core.errors import Forbidden

P = Permission
EXPECTED = {
    "admin": set(Permission),
    "manager": {
        P.FIND,
        P.READ,
        P.READ_REVENUE,
        P.CREATE,
        P.LOG,
        P.FOLLOW_UP,
        P.TEAM_DIGEST,
        P.MANAGE_ALERTS,
        P.CAMPAIGN_LIST,
    },
    "sales": {P.FIND, P.READ, P.READ_REVENUE, P.CREATE, P.LOG, P.FOLLOW_UP, P.CAMPAIGN_LIST},
    "support": {P.FIND, P.READ, P.CREATE, P.LOG, P.FOLLOW_UP, P.CAMPAIGN_LIST},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_has_exactly_its_permissions(role: str, permission: Permission) -> None:
    assert can(Actor("U1", "slack", role), permission) == (permission in EXPECTED[role])


def test_only_admins_manage_roles_read_the_audit_log_merge_import_and_answer_privacy_requests() -> None:
    admin_only = {p for p, grant in GRANTS.items() if grant.roles == {"admin"}}
    assert admin_only == {
        P.MERGE,
        P.IMPORT,
        P.EXPORT,
        P.MANAGE_TEAM,
        P.READ_AUDIT,
        P.PRIVACY_EXPORT,
        P.PRIVACY_ERASE,
    }


def test_the_operator_without_a_role_is_an_admin_and_an_unknown_role_may_do_nothing() -> None:
    assert all(can(Actor("cli:ops", "cli"), p) for p in Permission)
    assert not any(can(Actor("U1", "slack", "none"), p) for p in Permission)
    assert not any(can(Actor("U1", "slack", ""), p) for p in Permission)


def test_a_refusal_is_polite_and_says_what_was_refused() -> None:
    support = Actor("U0SUP", "slack", "support")
    with pytest.raises(Forbidden) as merge:
        authorize(support, P.MERGE, customer_id=7)
    assert merge.value.key == "access.admin_only"
    assert merge.value.message.startswith("Sorry, only admins may merge customer records")
    assert (merge.value.actor, merge.value.action, merge.value.customer_id) == (support, "customer.merge", 7)
    with pytest.raises(Forbidden) as digest:
        authorize(support, P.TEAM_DIGEST)
    assert digest.value.key == "access.denied"
    assert digest.value.params == {"role": "support", "permission": "digest.team"}
    assert "your role (support) may not get the team digest" in digest.value.message


def test_the_table_has_a_row_per_permission_and_a_column_per_role() -> None:
    lines = permissions_table().splitlines()
    assert lines[0] == "| may … | admin | manager | sales | support |"
    assert len(lines) == 2 + len(Permission)
    revenue = next(line for line in lines if line.startswith("| see revenue"))
    assert revenue.endswith("| ✓ | ✓ | ✓ | – |")
