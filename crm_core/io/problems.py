"""What is wrong with which line of an import file, collected while validating whole columns at once.

Checks run vectorised over every row; each adds a message for the lines it rejects. A line may have
several problems; all are reported, in the order the checks ran, so one pass over the report is
enough to fix the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Rejection:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class RowProblems:
    """Problems per line of one import; ``valid`` tells which rows have none so far."""

    def __init__(self, lines: pd.Index) -> None:
        self._lines = lines
        self._messages: dict[int, list[str]] = {}

    def add(self, line: int, message: str) -> None:
        self._messages.setdefault(line, []).append(message)

    def add_where(self, mask: pd.Series, describe: str | Callable[[str], str], values: pd.Series) -> None:
        """Reject the lines where ``mask`` holds; ``describe`` turns the offending value into a message."""
        for line, value in zip(values.index[mask].tolist(), values[mask].tolist(), strict=True):
            self.add(line, describe if isinstance(describe, str) else describe(str(value)))

    def add_repeats(self, keys: pd.Series, describe: Callable[[str, int], str]) -> None:
        """Reject every valid line whose key an earlier valid line already has, naming that line."""
        candidates = keys[self.valid() & keys.ne("")]
        repeated = candidates.duplicated(keep="first")
        if not repeated.any():
            return
        first = candidates[~repeated]
        first_line = dict(zip(first.tolist(), first.index.tolist(), strict=True))
        for line, key in zip(candidates.index[repeated].tolist(), candidates[repeated].tolist(), strict=True):
            self.add(line, describe(key, first_line[key]))

    def valid(self) -> pd.Series:
        """True for the lines that no check rejected."""
        return pd.Series(~self._lines.isin(list(self._messages)), index=self._lines)

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        return tuple(Rejection(line, "; ".join(self._messages[line])) for line in sorted(self._messages))
