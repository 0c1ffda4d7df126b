"""``crm-bot import`` and ``crm-bot export``: customers, purchases and interactions as CSV or XLSX files."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import click
from tqdm import tqdm

from bot.cli.analytics import keep_todays_scores
from bot.cli.app import EXIT_UNEXPECTED, CliContext, pass_context
from crm_core.io.export import export_csv, export_xlsx
from crm_core.io.headers import ColumnReading
from crm_core.io.importer import ENTITIES, ImportReport, column_readings, import_table
from crm_core.io.source import read_table
from crm_core.store import rehearsal, transaction

EXIT_ROWS_REJECTED = 1
RESCORED_AFTER = frozenset({"purchases", "interactions"})  # what segments and churn risk are judged on
ENTITY = click.Choice(list(ENTITIES))


@click.command("import")
@click.argument("entity", type=ENTITY)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report as usual, but write nothing.")
@pass_context
def import_command(context: CliContext, entity: str, file: Path, dry_run: bool) -> None:
    """Import ENTITY rows from FILE: CSV (UTF-8, with or without BOM, or Shift_JIS) or XLSX.

    \b
    Columns, in any order:
      customers     external_id, name, email, phone, company, owner, tags (split on ';');
                    any other column becomes a custom field
      purchases     customer, occurred_at, amount, currency (ISO 4217, default JPY),
                    external_id (the order's)
      interactions  customer, occurred_at, kind (as /crm log takes it), summary, author
    Header names other tools write (Email Address, Record ID, 氏名, 電話番号, ...) are read as
    these columns, ignoring case, spaces, hyphens, underscores and width; the README lists them.
    How each column was read is printed first, on stderr.
    A customer is named by external_id, e-mail or exact name. Times: 2026-11-25, 2026/11/25,
    2026-11-25 14:30 (offsets such as +09:00 are converted to UTC); none after today. Amounts:
    1200, 1,200, ¥1,200, 1200.50.

    \b
    Rows that fail validation are skipped and listed on stderr as "line N: problem" (the header
    is line 1); the valid rows are imported, and the exit status is then 1. A file that cannot be
    read at all (missing, binary, empty, wrong columns) imports nothing and exits with 2. The import
    is one transaction: interrupted, it leaves the store as it was. Importing the same file again
    changes nothing.
    """
    table = read_table(file)
    for reading in column_readings(entity, table).columns:
        click.echo(_reading_line(reading), err=True)
    actor = replace(context.actor, surface="import")
    with (
        tqdm(total=len(table.rows), unit="rows", file=sys.stderr, disable=not sys.stderr.isatty()) as bar,
        (rehearsal if dry_run else transaction)(context.engine()) as session,
    ):
        report = import_table(
            session,
            entity=entity,
            table=table,
            actor=actor,
            now=dt.datetime.now(ZoneInfo(context.settings.timezone)),
            progress=bar.update,
        )
    if not report.rows:
        click.echo(f"{file}: no rows below the header", err=True)
    for rejection in report.rejections:
        click.echo(str(rejection), err=True)
    for warning in report.warnings:
        click.echo(f"line {warning.line}: warning: {warning.message}", err=True)
    click.echo(_summary(report, dry_run=dry_run))
    if report.new and entity in RESCORED_AFTER and not dry_run:
        _rescore(context)
    if report.rejected:
        sys.exit(EXIT_ROWS_REJECTED)


def _rescore(context: CliContext) -> None:
    """Keep today's scores, so profile cards show segments and churn risk from the new rows now."""
    try:
        keep_todays_scores(context)
    except Exception as error:  # the import is committed: "nothing was changed" would be untrue
        if context.debug:
            raise
        click.echo(
            f"crm-bot: the rows are imported, but scoring failed ({type(error).__name__}): run "
            "`crm-bot --debug analytics score` and report the traceback",
            err=True,
        )
        sys.exit(EXIT_UNEXPECTED)


def _reading_line(reading: ColumnReading) -> str:
    """How one column is read, e.g. ``'Email Address' → email``, said before anything is imported."""
    if reading.part is not None:
        target = f"name ({reading.part})"
    elif reading.custom:
        target = f"custom field {reading.header}"
    else:
        target = ", ".join(reading.fields)
    return f"{reading.header!r} → {target}"


def _summary(report: ImportReport, *, dry_run: bool) -> str:
    updated = f", {report.updated} updated" if report.entity == "customers" else ""
    counts = (
        f"{report.new} {report.entity}{updated}, {report.unchanged} unchanged, {report.rejected} rejected"
    )
    if report.follow_ups:
        plural = "s" if report.follow_ups > 1 else ""
        counts += f"; {report.follow_ups} follow-up{plural} scheduled by the rules"
    return f"dry run: would import {counts}; nothing was written" if dry_run else f"imported {counts}"


@click.command("export")
@click.argument("entity", type=ENTITY)
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True, dir_okay=False))
@pass_context
def export_command(context: CliContext, entity: str, file: Path) -> None:
    """Export every ENTITY row with the import columns to FILE: XLSX when FILE ends in .xlsx, otherwise
    CSV (UTF-8); '-' writes CSV to stdout.

    Importing the file into an empty store gives the same data. Text that a spreadsheet would run as
    a formula (starting with =, +, -, @) is written with a leading ' that import removes again. FILE
    is replaced only once the export is complete.
    """
    as_xlsx = file.suffix.lower() == ".xlsx"
    with transaction(context.engine()) as session, output(file, binary=as_xlsx) as out:
        export = export_xlsx if as_xlsx else export_csv
        count = export(session, entity=entity, out=out, actor=context.actor)
    click.echo(f"exported {count} {entity}" + ("" if str(file) == "-" else f" to {file}"), err=True)


@contextmanager
def output(file: Path, *, binary: bool) -> Iterator[IO[Any]]:
    """stdout for '-'; otherwise a partial file beside FILE, moved over it only when complete."""
    if str(file) == "-":
        yield sys.stdout
        return
    partial = file.parent / f".{file.name}.partial"
    try:
        with partial.open("wb") if binary else partial.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        partial.replace(file)
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror or type(exc).__name__}") from None
    finally:
        partial.unlink(missing_ok=True)
