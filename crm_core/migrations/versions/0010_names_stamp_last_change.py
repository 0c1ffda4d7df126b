"""customer names stamp: the row also says which change set the stamp, and the stamp before it

A search reads the stamp with the customers it shows, in one statement. When the stamp has moved
(another replica added a customer), the search read the log of changes (0008) in a second statement
before it could answer: a round trip and a statement planned afresh, 0.1 ms on SQLite and 0.4-0.7 ms
on PostgreSQL at 1M customers, on every search after every arrival. Most moves are one customer
added, renamed or deleted: the stamp row now carries that change, so the search that reads the stamp
reads it too and applies it without the log.

- ``previous_stamp``: the stamp the change replaced. A process whose index is current for that stamp
  knows that this change is the only one since; any other process reads the log as before.
- ``last_version``: the change's number in the log, which the index takes as its own, so that its
  next read of the log starts there.
- ``last_customer_id`` and ``last_name_key``: the one customer the change touched, and its key after
  it (NULL: deleted). A PostgreSQL statement that changed several customers leaves the customer NULL
  (readers then read the log); SQLite's triggers run per row, so each row is a change of its own.

TRUNCATE (PostgreSQL only) clears them all with the stamp it moves, so no process takes it for a
single change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0008 = importlib.import_module("crm_core.migrations.versions.0008_customer_name_changes")
_0009 = importlib.import_module("crm_core.migrations.versions.0009_name_changes_prune_range")
_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "previous_stamp": sa.BigInteger(),
    "last_version": sa.BigInteger(),
    "last_customer_id": sa.Integer(),
    "last_name_key": sa.Text(),
}

_SQLITE_KEYS = {"insert": "NEW.name_key", "delete": "NULL", "update": "NEW.name_key"}
_SQLITE_BODY = (
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET previous_stamp = customer_names_stamp.stamp, stamp = excluded.stamp; "
    "INSERT INTO customer_name_changes (customer_id, stamp) "
    "SELECT {row}.id, stamp FROM customer_names_stamp WHERE id = 1; "
    "UPDATE customer_names_stamp SET last_version = last_insert_rowid(), last_customer_id = {row}.id, "
    "last_name_key = {key} WHERE id = 1; "
    + _0008._PRUNE.format(latest="(SELECT max(version) FROM customer_name_changes)")
)
_POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION customer_name_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE token bigint := (random() * 9.0e18)::bigint; changed integer[]; "
    "previous bigint; latest bigint; one_key text; "
    "BEGIN "
    + " ".join(
        f"{'IF' if i == 0 else 'ELSIF'} TG_OP = '{op_}' THEN {query} INTO changed;"
        for i, (op_, query) in enumerate(_0009._CHANGED.items())
    )
    + " END IF; "
    "IF changed IS NULL THEN RETURN NULL; END IF; "
    "IF cardinality(changed) = 1 AND TG_OP <> 'DELETE' THEN "
    "SELECT name_key INTO one_key FROM new_rows WHERE id = changed[1]; END IF; "
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, token) "
    "ON CONFLICT (id) DO UPDATE SET previous_stamp = customer_names_stamp.stamp, stamp = excluded.stamp; "
    # After the stamp row is locked: the newest change committed before this one.
    "SELECT max(version) INTO previous FROM customer_name_changes; "
    "INSERT INTO customer_name_changes (customer_id, stamp) SELECT unnest(changed), token; "
    "SELECT max(version) INTO latest FROM customer_name_changes; "
    "UPDATE customer_names_stamp SET last_version = latest, "
    "last_customer_id = CASE WHEN cardinality(changed) = 1 THEN changed[1] END, last_name_key = one_key "
    "WHERE id = 1; "
    f"DELETE FROM customer_name_changes WHERE version < latest - {_0009.RETAINED} "
    f"AND (previous IS NULL OR version >= previous - {_0009.RETAINED}); "
    "RETURN NULL; END $$"
)
_POSTGRES_TRUNCATED = (
    "CREATE OR REPLACE FUNCTION customer_names_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, (random() * 9.0e18)::bigint) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp{cleared}; RETURN NULL; END $$"
)


def upgrade() -> None:
    for column, kind in _COLUMNS.items():
        op.add_column("customer_names_stamp", sa.Column(column, kind, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        op.execute(_POSTGRES_TRUNCATED.format(cleared="".join(f", {column} = NULL" for column in _COLUMNS)))
        return
    _sqlite_triggers(_SQLITE_BODY, keys=_SQLITE_KEYS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_0009._FUNCTION)
        op.execute(_POSTGRES_TRUNCATED.format(cleared=""))
    else:
        _sqlite_triggers(_0008._SQLITE_BODY, keys={})
    # Not a batch (a copy of the table): on SQLite the triggers name it, and its renaming fails.
    for column in _COLUMNS:
        op.drop_column("customer_names_stamp", column)


def _sqlite_triggers(body: str, *, keys: dict[str, str]) -> None:
    """Replace 0008's row triggers with ones running ``body`` (formatted with the row and its key)."""
    for name, (event, row, when) in _0008._SQLITE_EVENTS.items():
        op.execute(f"DROP TRIGGER customer_name_changes_on_{name}")
        op.execute(
            f"CREATE TRIGGER customer_name_changes_on_{name} AFTER {event} ON customers{when} "
            f"BEGIN {body.format(row=row, key=keys.get(name))} END"
        )
