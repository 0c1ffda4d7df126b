"""Who may use crm-bot at all: guests never, CRM_ADMINS always, the team by role, others by default."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_core.access.resolve import Access, resolve_access, role_of
from crm_core.actor import Actor
from crm_core.errors import Forbidden
from crm_core.team.service import add_member
from tests.factories import TEST_ACTOR

ADMINS = ("U0BOSS",)


def access(session: Session, user_id: str, *, is_guest: bool = False, default_role: str = "sales") -> Access:
    return resolve_access(
        session, user_id=user_id, is_guest=is_guest, admins=ADMINS, default_role=default_role
    )


def test_roles_come_from_crm_admins_then_the_team_then_the_default(session: Session) -> None:
    add_member(session, actor=TEST_ACTOR, user_id="U0SUP", role="support")
    add_member(session, actor=TEST_ACTOR, user_id="U0BOSS", role="sales")
    assert access(session, "U0BOSS") == Access("U0BOSS", "admin", "admins_setting")
    assert access(session, "U0SUP") == Access("U0SUP", "support", "team")
    assert access(session, "U0NEW") == Access("U0NEW", "sales", "default_role")
    assert access(session, "U0NEW", default_role="none") == Access("U0NEW", None, "not_in_team")
    assert role_of(session, user_id="U0SUP", admins=ADMINS, default_role="none") == "support"


def test_guests_are_refused_whatever_else_is_true(session: Session) -> None:
    add_member(session, actor=TEST_ACTOR, user_id="U0SUP", role="support")
    for user_id in ("U0BOSS", "U0SUP", "U0NEW"):
        assert access(session, user_id, is_guest=True) == Access(user_id, None, "guest")


def test_the_actor_carries_the_role_or_the_refusal_is_raised(session: Session) -> None:
    assert access(session, "U0NEW").actor(surface="slack") == Actor("U0NEW", "slack", "sales")
    with pytest.raises(Forbidden) as guest:
        access(session, "U0NEW", is_guest=True).actor(surface="slack")
    assert guest.value.key == "access.guest"
    assert guest.value.actor.role == "none"
    with pytest.raises(Forbidden) as outsider:
        access(session, "U0NEW", default_role="none").actor(surface="slack")
    assert outsider.value.key == "access.not_in_team"
