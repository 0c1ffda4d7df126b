"""Export as CSV with exactly the import columns, so export → import into an empty store gives the same data.

Rows are streamed from the database in chunks and written as they come, so exporting a million
purchases holds one chunk in memory, never the whole file. Values are written the way the importer
reads them: times as ISO text, amounts without trailing zeros, tags joined with the importer's
separator, custom fields as extra customer columns.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.io.bulk import CHUNK_ROWS
from crm_core.io.customers import TAG_SEPARATOR
from crm_core.io.importer import ENTITIES
from crm_core.models import Customer, Interaction, Purchase

_CsvWriter = Any  # csv's writer type is private; it is only ever handed to writerow(s)
_Exporter = Callable[[Session, _CsvWriter], int]


def export_csv(session: Session, *, entity: str, out: TextIO, actor: Actor) -> int:
    """Write every ``entity`` row to ``out`` as CSV; returns how many rows were written."""
    authorize(actor, Permission.EXPORT)
    writer = csv.writer(out, lineterminator="\n")
    count = _EXPORTERS[entity](session, writer)
    record(session, actor=actor, action="export", detail={"entity": entity, "rows": count})
    return count


def _stream(session: Session, query: Select[*tuple[Any, ...]]) -> Iterator[Sequence[Any]]:
    for partition in session.execute(query.execution_options(yield_per=CHUNK_ROWS)).partitions():
        yield from partition


def _write(writer: _CsvWriter, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _cell(value: object) -> str:
    """A value as the importer reads it back: times in ISO form, 1200.00 as '1200' and 12.50 as '12.5'."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _export_customers(session: Session, writer: _CsvWriter) -> int:
    custom = sorted(
        {name for (fields,) in _stream(session, select(Customer.custom_fields)) for name in fields}
    )
    rows = (
        [
            *map(_cell, (c.external_id, c.name, c.email, c.phone, c.company, c.owner_id)),
            TAG_SEPARATOR.join(c.tags or ()),
            *[_cell((c.custom_fields or {}).get(name)) for name in custom],
        ]
        for (c,) in _stream(session, select(Customer).order_by(Customer.id))
    )
    return _write(writer, [*ENTITIES["customers"].columns, *custom], rows)


def _timeline_exporter(entity: str, model: type[Purchase | Interaction]) -> _Exporter:
    """Purchases and interactions: the customer's external id, then the model's columns of the same
    names as the import columns."""
    columns = [getattr(model, name) for name in ENTITIES[entity].columns[1:]]
    query = (
        select(Customer.external_id, *columns)
        .join(Customer, Customer.id == model.customer_id)
        .order_by(model.id)
    )

    def export(session: Session, writer: _CsvWriter) -> int:
        rows = ([_cell(value) for value in row] for row in _stream(session, query))
        return _write(writer, ENTITIES[entity].columns, rows)

    return export


_EXPORTERS: dict[str, _Exporter] = {
    "customers": _export_customers,
    "purchases": _timeline_exporter("purchases", Purchase),
    "interactions": _timeline_exporter("interactions", Interaction),
}
