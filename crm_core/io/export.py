"""Export as CSV or XLSX with exactly the import columns, so export → import into an empty store gives
the same data.

Rows are streamed from the database in chunks and written as they come, so exporting a million
purchases holds one chunk in memory, never the whole file (XLSX through openpyxl's write-only mode).
Values are written the way the importer reads them: times as ISO text, amounts without trailing
zeros (numbers in XLSX), tags joined with the importer's separator, custom fields as extra customer
columns. Text that a spreadsheet would run as a formula is quoted (``crm_core.io.formulas``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.io.bulk import CHUNK_ROWS
from crm_core.io.customers import TAG_SEPARATOR
from crm_core.io.formulas import text_cell
from crm_core.io.importer import ENTITIES
from crm_core.models import Customer, Interaction, Purchase

Cell = str | Decimal | None
"""A value as exported: text (already quoted where a spreadsheet would run it), or an amount."""
_Table = tuple[list[str], Iterator[list[Cell]]]
_Exporter = Callable[[Session], _Table]


def export_csv(session: Session, *, entity: str, out: IO[str], actor: Actor) -> int:
    """Write every ``entity`` row to ``out`` as CSV; returns how many rows were written."""
    authorize(actor, Permission.EXPORT)
    header, rows = _EXPORTERS[entity](session)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
        count += 1
    record(session, actor=actor, action="export", detail={"entity": entity, "rows": count})
    return count


def export_xlsx(session: Session, *, entity: str, out: IO[bytes], actor: Actor) -> int:
    """Write every ``entity`` row to ``out`` as an XLSX workbook of one sheet; returns the row count."""
    # openpyxl is imported here: it is slow to import and most exports are CSV.
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    authorize(actor, Permission.EXPORT)
    header, rows = _EXPORTERS[entity](session)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(entity)
    sheet.append(header)
    count = 0
    for row in rows:
        # XLSX cannot hold control characters other than tab and line breaks; they are dropped.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
        count += 1
    workbook.save(out)
    record(session, actor=actor, action="export", detail={"entity": entity, "rows": count})
    return count


def _csv_text(value: Cell) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return "" if value is None else value


def _stream(session: Session, query: Select[*tuple[Any, ...]]) -> Iterator[Sequence[Any]]:
    for partition in session.execute(query.execution_options(yield_per=CHUNK_ROWS)).partitions():
        yield from partition


def _cell(value: object) -> Cell:
    """A value as the importer reads it back: times in ISO form, amounts as numbers, text quoted
    where a spreadsheet would run it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return value
    return text_cell(str(value))


def _header(names: Iterable[str]) -> list[str]:
    return [text_cell(name) for name in names]


def _export_customers(session: Session) -> _Table:
    custom = sorted(
        {name for (fields,) in _stream(session, select(Customer.custom_fields)) for name in fields}
    )
    rows = (
        [
            *map(_cell, (c.external_id, c.name, c.email, c.phone, c.company, c.owner_id)),
            _cell(TAG_SEPARATOR.join(c.tags or ())),
            *[_cell((c.custom_fields or {}).get(name)) for name in custom],
        ]
        for (c,) in _stream(session, select(Customer).order_by(Customer.id))
    )
    return _header([*ENTITIES["customers"].columns, *custom]), rows


def _timeline_exporter(entity: str, model: type[Purchase | Interaction]) -> _Exporter:
    """Purchases and interactions: the customer's external id, then the model's columns of the same
    names as the import columns."""
    columns = [getattr(model, name) for name in ENTITIES[entity].columns[1:]]
    query = (
        select(Customer.external_id, *columns)
        .join(Customer, Customer.id == model.customer_id)
        .order_by(model.id)
    )

    def export(session: Session) -> _Table:
        rows = ([_cell(value) for value in row] for row in _stream(session, query))
        return _header(ENTITIES[entity].columns), rows

    return export


_EXPORTERS: dict[str, _Exporter] = {
    "customers": _export_customers,
    "purchases": _timeline_exporter("purchases", Purchase),
    "interactions": _timeline_exporter("interactions", Interaction),
}
