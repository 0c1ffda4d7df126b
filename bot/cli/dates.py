"""The ``--date`` option shared by commands that look at the CRM as of one day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

F = TypeVar("F", bound=Callable[..., Any])


def date_option(help_text: str) -> Callable[[F], F]:
    return click.option("--date", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]), help=help_text)


def resolve_date(on_date: dt.datetime | None, timezone: str) -> dt.date:
    """``--date`` as given, else today where the team is (CRM_TIMEZONE)."""
    return on_date.date() if on_date else dt.datetime.now(ZoneInfo(timezone)).date()
