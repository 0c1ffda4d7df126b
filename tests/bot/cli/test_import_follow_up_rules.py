"""Follow-up rules fire on imported purchases and interactions in the import's own transaction,
as they do for ``/crm log``: no scheduler needs to run before the follow-ups are there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

from tests.conftest import CliResult

Crm = Callable[..., CliResult]
TODAY = dt.datetime.now(dt.UTC).date()  # crm-bot's today: CRM_TIMEZONE is UTC here
LAST_WEEK = TODAY - dt.timedelta(days=7)
YESTERDAY = TODAY - dt.timedelta(days=1)


def _rules_made_last_week(crm: Crm, engine: Engine, *rules: tuple[str, str, str]) -> None:
    """Rules watch what happens after they are made: these were made a week before the events."""
    for trigger, after, note in rules:
        assert crm("rules", "add", "--on", trigger, "--after", after, "--note", note).exit_code == 0
    with engine.begin() as connection:
        connection.execute(text("UPDATE follow_up_rules SET created_at = :at"), {"at": LAST_WEEK})


def _follow_ups(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT c.external_id, f.owner_id, f.due_on, f.note, f.status FROM follow_ups f "
                    "JOIN customers c ON c.id = f.customer_id ORDER BY c.external_id, f.note"
                )
            )
        ]


def _import(crm: Crm, tmp_path: Path, entity: str, content: str, *options: str) -> CliResult:
    path = tmp_path / f"{entity}.csv"
    path.write_text(content, encoding="utf-8")
    result = crm("import", entity, str(path), *options)
    assert result.exit_code == 0, result.stderr
    return result


def test_an_imported_first_purchase_schedules_the_rules_follow_up_at_once(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    _rules_made_last_week(crm, engine, ("first_purchase", "3d", "Thank-you call"))
    _import(crm, tmp_path, "customers", "external_id,name,owner\nC1,Acme Inc.,U0SALES1\nC2,Bolt Ltd,\n")
    result = _import(
        crm,
        tmp_path,
        "purchases",
        f"customer,occurred_at,amount,external_id\nC1,{YESTERDAY},1200,O1\nC1,{TODAY},800,O2\n",
    )
    due = (YESTERDAY + dt.timedelta(days=3)).isoformat()
    assert [(c, o, str(d), n, s) for c, o, d, n, s in _follow_ups(engine)] == [
        ("C1", "U0SALES1", due, "Thank-you call", "open")
    ]
    assert "1 follow-up scheduled by the rules" in result.stdout
    # Importing the same file again schedules nothing twice.
    again = _import(
        crm,
        tmp_path,
        "purchases",
        f"customer,occurred_at,amount,external_id\nC1,{YESTERDAY},1200,O1\nC1,{TODAY},800,O2\n",
    )
    assert "follow-up" not in again.stdout
    assert len(_follow_ups(engine)) == 1


def test_imported_interactions_fire_their_rules_and_a_dry_run_keeps_nothing(
    crm: Crm, engine: Engine, tmp_path: Path
) -> None:
    _rules_made_last_week(crm, engine, ("interaction:support", "1w", "Check the fix held"))
    _import(crm, tmp_path, "customers", "external_id,name,owner\nC1,Acme Inc.,U0SALES1\n")
    interactions = (
        f"customer,occurred_at,kind,summary,author\nC1,{YESTERDAY} 10:00,サポート,返品の相談,U0SUP\n"
    )
    dry = _import(crm, tmp_path, "interactions", interactions, "--dry-run")
    assert "would import 1 interactions" in dry.stdout and "1 follow-up" in dry.stdout
    assert _follow_ups(engine) == []
    _import(crm, tmp_path, "interactions", interactions)
    due = (YESTERDAY + dt.timedelta(days=7)).isoformat()
    # The interaction's author follows it up, as for /crm log.
    assert [(c, o, str(d), n) for c, o, d, n, _ in _follow_ups(engine)] == [
        ("C1", "U0SUP", due, "Check the fix held")
    ]
