"""What the import pipeline needs to know about each kind of row: its columns and how to load them."""

from __future__ import annotations

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


Load = Callable[[Session, pd.DataFrame, RowProblems, Progress], WriteCounts]
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
