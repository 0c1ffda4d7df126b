"""What the import pipeline needs to know about each kind of row: its columns and how to load them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.io.bulk import Progress
from crm_core.io.problems import Rejection, RowProblems


@dataclass(frozen=True)
class WriteCounts:
    new: int
    updated: int = 0
    unchanged: int = 0
    # Rows imported all the same but worth a look, e.g. a new customer named like an existing one.
    warnings: tuple[Rejection, ...] = ()


@dataclass(frozen=True)
class Batch:
    """One file's rows on their way in, with what every loader needs besides the session.

    ``now`` is the moment of the import where the team is (timezone-aware), given by the caller:
    the core never reads the clock, so a test or a replay can say which day "today" is.
    """

    rows: pd.DataFrame
    problems: RowProblems
    progress: Progress
    now: dt.datetime

    @property
    def today(self) -> dt.date:
        return self.now.date()

    @property
    def end_of_today(self) -> dt.datetime:
        """The first stored time (naive, UTC by convention) that is after today.

        Times written without an offset are stored as written, so people east of UTC write their own
        local times: "2026-11-25 23:30" must pass on the 25th in Tokyo. Times this store exported are
        UTC: an evening in Los Angeles is already tomorrow in UTC and must pass too. So the later of
        the two midnights counts: that lets through at most the team's UTC offset of tomorrow.
        """
        tomorrow = self.today + dt.timedelta(days=1)
        local = dt.datetime.combine(tomorrow, dt.time(), tzinfo=self.now.tzinfo).astimezone(dt.UTC)
        return max(local.replace(tzinfo=None), dt.datetime.combine(tomorrow, dt.time()))


Load = Callable[[Session, Batch], WriteCounts]
"""Validate what only this entity can check, then write the rows still valid; never commits."""


@dataclass(frozen=True)
class EntityImport:
    """``columns`` are the known columns in export order. With ``custom_fields`` other columns become
    custom fields; without, they are refused, since a misspelt optional column would silently be lost.
    Required columns must be present and non-empty; ``max_lengths`` mirror the store's column sizes.
    """

    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    load: Load
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    custom_fields: bool = False
