"""Readers and writers: the two units of work a Slack handler can be registered with.

The wiring (``bot.listeners.wiring``) declares which one each handler runs in, so a handler never
picks ``transaction`` or ``reading`` itself, and a read such as the customer picker (a search on
every keystroke) or the App Home tab cannot take SQLite's write lock by mistake and wait behind
another process's write. One user action is one unit: at most one write transaction.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import Enum

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crm_core.store import reading, transaction


class Unit(Enum):
    READS = "reads"  # crm_core.store.reading: no write lock, no transaction on PostgreSQL; audit after
    WRITES = "writes"  # crm_core.store.transaction: the action's one write transaction


def open_unit(unit: Unit, engine: Engine) -> AbstractContextManager[Session]:
    return reading(engine, one_transaction=False) if unit is Unit.READS else transaction(engine)
