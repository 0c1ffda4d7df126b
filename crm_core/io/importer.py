"""The one import pipeline all three entities share: columns, common checks, load, report, audit.

Policy, chosen so that a big file with a few bad rows is not a day lost, and nothing is hidden:
- every row is validated; rejected rows are skipped and reported by line number (header = line 1),
  the valid rows are written, and the report's ``rejected`` count lets the caller exit non-zero;
- everything runs inside the caller's transaction, so a crash or an interrupt leaves the store as it
  was (no half import), and a dry run is the same work rolled back, with exact counts;
- re-importing a file changes nothing: customers by external id (or e-mail and phone), purchases by
  order id, interactions by a key derived from their content;
- one audit event per import, with counts only (audit rows must never hold personal data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.errors import ImportFileError
from crm_core.io.bulk import Progress, roomy_sqlite_cache
from crm_core.io.customers import CUSTOMERS
from crm_core.io.entity import Batch, EntityImport
from crm_core.io.headers import ColumnReadings, read_columns
from crm_core.io.interactions import INTERACTIONS
from crm_core.io.problems import Rejection, RowProblems
from crm_core.io.purchases import PURCHASES
from crm_core.io.source import SourceTable
from crm_core.rules.service import apply_follow_up_rules

ENTITIES: dict[str, EntityImport] = {entity.name: entity for entity in (CUSTOMERS, PURCHASES, INTERACTIONS)}
RULE_EVENTS = frozenset({PURCHASES.name, INTERACTIONS.name})  # what follow-up rules watch


@dataclass(frozen=True)
class ImportReport:
    entity: str
    rows: int
    new: int
    updated: int
    unchanged: int
    rejections: tuple[Rejection, ...]
    warnings: tuple[Rejection, ...] = ()
    follow_ups: int = 0  # scheduled by follow-up rules for the imported purchases or interactions

    @property
    def rejected(self) -> int:
        return len(self.rejections)


def import_table(
    session: Session,
    *,
    entity: str,
    table: SourceTable,
    actor: Actor,
    now: dt.datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and write the rows of ``table`` (from ``read_table`` or ``frame_table``) in the caller's
    transaction; never commits. Unreadable columns raise ImportFileError before anything is written.

    ``now`` (timezone-aware, where the team is) says which day is today: rows dated after it are
    refused. The caller reads the clock; the core never does.
    """
    authorize(actor, Permission.IMPORT)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    spec = ENTITIES[entity]
    rows = _known_columns(spec, table)
    problems = RowProblems(rows.index)
    for line, message in table.malformed.items():
        problems.add(line, message)
    for column in spec.required:
        problems.add_where(rows[column].eq(""), f"{column} is empty", rows[column])
    for column, limit in spec.max_lengths.items():
        if column in rows:
            too_long = rows[column].str.len().gt(limit)
            problems.add_where(too_long, f"{column} is longer than {limit} characters", rows[column])
    with roomy_sqlite_cache(session.connection()):
        counts = spec.load(session, Batch(rows, problems, progress or _no_progress, now))
    # In this transaction, as ``/crm log`` does: the follow-ups are there as soon as the rows are.
    follow_ups = apply_follow_up_rules(session, actor=actor) if entity in RULE_EVENTS else 0
    report = ImportReport(
        entity=entity,
        rows=len(rows),
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejections=problems.rejections,
        warnings=counts.warnings,
        follow_ups=follow_ups,
    )
    record(
        session,
        actor=actor,
        action="import",
        detail={
            "entity": entity,
            "rows": report.rows,
            "new": report.new,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        },
    )
    return report


def _no_progress(_rows: int) -> None:
    """Progress is only shown on a terminal; everywhere else nobody is watching."""


def column_readings(entity: str, table: SourceTable) -> ColumnReadings:
    """How each column of ``table`` is read as a field of ``entity``, said before importing; raises
    ImportFileError when the columns do not fit (unnamed values, missing, ambiguous, repeated)."""
    spec = ENTITIES[entity]
    rows = table.rows
    unnamed = [position for position, name in enumerate(rows.columns) if not name]
    if any(rows.iloc[:, position].ne("").any() for position in unnamed):
        raise ImportFileError(f"{table.name}: a column with values has no header name; name it or delete it")
    headers = [name for name in rows.columns if name]
    readings = read_columns(entity=entity, headers=headers, source=table.name)
    found = {field for reading in readings.columns for field in reading.fields}
    if any(reading.part for reading in readings.columns):
        found.add("name")
    missing = [column for column in spec.required if column not in found]
    if missing:
        separator_hint = (
            " The file seems not to be comma-separated: save it as CSV with commas."
            if len(headers) == 1 and any(sign in headers[0] for sign in ";\t")
            else ""
        )
        raise ImportFileError(
            f"{table.name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"found: {', '.join(headers) or 'none'}. {_expected(spec)}.{separator_hint}"
        )
    unknown = [reading.header for reading in readings.columns if reading.custom and reading.part is None]
    if unknown and not spec.custom_fields:
        raise ImportFileError(f"{table.name}: unknown column {', '.join(unknown)}. {_expected(spec)}.")
    return readings


def _known_columns(spec: EntityImport, table: SourceTable) -> pd.DataFrame:
    """The rows under their field names (custom fields under their own); see ``column_readings``."""
    readings = column_readings(spec.name, table)
    named = [position for position, name in enumerate(table.rows.columns) if name]
    return readings.rows(table.rows.iloc[:, named])


def _expected(spec: EntityImport) -> str:
    optional = [column for column in spec.columns if column not in spec.required]
    extra = "; other columns become custom fields" if spec.custom_fields else ""
    return (
        f"{spec.name.capitalize()} need {', '.join(spec.required)} (optional: {', '.join(optional)}{extra})"
    )
