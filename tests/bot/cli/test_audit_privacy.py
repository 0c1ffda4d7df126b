"""`crm-bot audit`, `team set-role|roles` and `privacy export|erase` as an admin runs them on the server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from crm_core.models import AuditEvent
from crm_core.store import transaction
from tests.conftest import CliResult

Crm = Callable[..., CliResult]


def fields(line: str) -> list[str]:
    return line.split("\t")


def test_audit_lists_one_event_per_line_and_filters(crm: Crm) -> None:
    crm("customers", "add", "Acme", "--external-id", "C-1", "--email", "info@acme.example")
    crm("customers", "add", "Globex", "--external-id", "C-2")
    crm("privacy", "export", "C-1")
    every = crm("audit")
    assert every.exit_code == 0, every.stderr
    lines = [fields(line) for line in every.stdout.splitlines()]
    assert [(line[3], line[4], line[5]) for line in lines] == [
        ("customer.create", "C-1", "allowed"),
        ("customer.create", "C-2", "allowed"),
        ("privacy.export", "C-1", "allowed"),
    ]
    time, actor, surface = lines[0][:3]
    assert dt.datetime.fromisoformat(time) and actor.startswith("cli:") and surface == "cli"
    about = [fields(line)[3] for line in crm("audit", "--customer", "C-1").stdout.splitlines()]
    assert about == ["customer.create", "privacy.export"]
    assert len(crm("audit", "--user", actor).stdout.splitlines()) == 5  # and the two reads of the trail
    assert crm("audit", "--user", "U0NOBODY").stdout == ""
    assert crm("audit", "--since", "2999-01-01").stdout == ""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert "customer.create" in crm("audit", "--since", today).stdout
    assert len(crm("audit", "--limit", "2").stdout.splitlines()) == 2


def test_audit_shows_refusals_and_customers_merged_away(crm: Crm, engine: Engine) -> None:
    crm("customers", "add", "Acme", "--external-id", "C-1")
    crm("customers", "add", "Acme Tokyo", "--external-id", "C-2")
    crm("customers", "merge", "C-1", "C-2")
    with transaction(engine) as session:
        merged_away = session.scalars(select(AuditEvent.customer_id).order_by(AuditEvent.id)).all()[1]
        session.add(AuditEvent(actor="U0SUP", action="customer.merge", surface="slack", allowed=False))
    lines = [fields(line) for line in crm("audit").stdout.splitlines()]
    assert lines[1][4] == f"#{merged_away}"
    assert lines[-1][1:] == ["U0SUP", "slack", "customer.merge", "-", "refused"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("audit", "--since", "yesterday"), "'yesterday' does not match the format '%Y-%m-%d'"),
        (("audit", "--limit", "0"), "0 is not in the range"),
        (("audit", "--customer", "C-404"), "No customer has the external id 'C-404'"),
        (("privacy", "export", "C-404"), "no customer has the external id or e-mail 'C-404'"),
        (("privacy", "erase", "C-404", "--yes"), "no customer has the external id or e-mail 'C-404'"),
        (("privacy", "erase", "C-1"), "erasing C-1's personal data cannot be undone: add --yes"),
        (("team", "set-role", "U0REP", "boss"), "'boss' is not one of"),
        (("team", "set-role", "someone", "sales"), "not a Slack user id"),
    ],
)
def test_bad_input_is_one_line_on_stderr(crm: Crm, args: tuple[str, ...], expected: str) -> None:
    crm("customers", "add", "Acme", "--external-id", "C-1")
    result = crm(*args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stderr.startswith("crm-bot: ") and result.stderr.count("\n") == 1


def test_set_role_changes_a_role_and_is_audited(crm: Crm) -> None:
    assert crm("team", "set-role", "U0REP", "sales").stdout.strip() == "U0REP is sales (new to the team)"
    assert crm("team", "set-role", "U0REP", "support").stdout.strip() == "U0REP is support (was sales)"
    assert fields(crm("team", "list").stdout.splitlines()[0])[:2] == ["U0REP", "support"]
    changes = [fields(line)[3:6] for line in crm("audit").stdout.splitlines()]
    assert changes == [["team.set", "-", "allowed"]] * 2


def test_team_roles_prints_the_permission_table(crm: Crm) -> None:
    table = crm("team", "roles").stdout.splitlines()
    assert table[0] == "| may … | admin | manager | sales | support |"
    assert any(line.startswith("| read the audit log | ✓ | – | – | – |") for line in table)


def test_privacy_export_prints_json_and_erase_removes_it(crm: Crm) -> None:
    crm("customers", "add", "Zebulon Quxworth", "--external-id", "C-1", "--email", "zeb@erase-me.example")
    exported = crm("privacy", "export", "ZEB@erase-me.example")
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["customer"]["name"] == "Zebulon Quxworth"
    erased = crm("privacy", "erase", "zeb@erase-me.example", "--yes")
    assert erased.exit_code == 0, erased.stderr
    assert erased.stdout.startswith("erased C-1: name, contact details")
    document = json.loads(crm("privacy", "export", "C-1").stdout)
    assert document["customer"]["name"].startswith("erased customer ")
    assert "Zebulon" not in json.dumps(document) and "zeb@" not in json.dumps(document)
    assert crm("find", "Zebulon").stdout.strip() == "no customer matches 'Zebulon'"
    again = crm("privacy", "erase", "C-1", "--yes")
    assert again.exit_code == 0 and "was already erased on" in again.stdout
    actions = [fields(line)[3] for line in crm("audit", "--customer", "C-1").stdout.splitlines()]
    assert actions == [
        "customer.create",
        "privacy.export",
        "privacy.erase",
        "privacy.export",
        "privacy.erase",
    ]
