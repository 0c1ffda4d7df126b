"""``crm-bot export``: every customer, purchase or interaction (``bot.cli.io``), or a campaign list.

``crm-bot export customers FILE`` works as it always did; ``crm-bot export segment NAME FILE`` writes
the campaign list ``/crm segment NAME`` sends to a DM, as the operator (an admin) may see it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bot.cli.app import CliContext, pass_context
from bot.cli.io import export_command, output
from crm_core.campaigns.lists import campaign_list, list_names, write_csv
from crm_core.io.importer import ENTITIES
from crm_core.store import reading

FILE = click.argument("file", type=click.Path(path_type=Path, allow_dash=True, dir_okay=False))


@click.group("export")
def export() -> None:
    """Export ENTITY (customers, purchases, interactions) to FILE, or a campaign list (segment)."""


def _entity_command(entity: str) -> click.Command:
    @FILE
    @click.pass_context
    def command(ctx: click.Context, file: Path) -> None:
        ctx.invoke(export_command, entity=entity, file=file)

    return click.command(
        entity,
        help=f"Every {entity} row, with the import columns, to FILE: XLSX when FILE ends in .xlsx, "
        "otherwise CSV (UTF-8); '-' writes CSV to stdout. Importing it into an empty store gives the "
        "same data.",
    )(command)


for _entity in ENTITIES:
    export.add_command(_entity_command(_entity))


@export.command("segment")
@click.argument("name")
@FILE
@click.option("--owner", help="Only this owner's customers (a Slack user id).")
@click.option("--tag", help="Only customers with this tag.")
@pass_context
def export_segment(context: CliContext, name: str, file: Path, owner: str | None, tag: str | None) -> None:
    """A campaign list as CSV (UTF-8) to FILE ('-' for stdout): NAME is a segment (Champions, "At Risk",
    …), at-risk, vip or won-back, as of the last scoring. Cells a spreadsheet would run as formulas
    are written with a leading '."""
    today = dt.datetime.now(ZoneInfo(context.settings.timezone)).date()
    with reading(context.engine()) as session:
        campaign = campaign_list(
            session, actor=context.actor, name=name, owner_id=owner, tag=tag, today=today
        )
    with output(file, binary=False) as out:
        write_csv(campaign, out)
    where = "" if str(file) == "-" else f" to {file}"
    click.echo(f"exported {len(campaign.rows)} customers of {campaign.name}{where}", err=True)


export_segment.help = f"{export_segment.help}\n\nLists: {', '.join(list_names())}."
