"""customer name changes: the PostgreSQL trigger prunes only the rows its change pushes out of the log

Migration 0008's statement trigger kept about the last ``RETAINED`` changes by deleting every row
below the window after each change. PostgreSQL keeps a deleted row (and its index entry) until a
vacuum, and that delete walked the primary key from its lowest entry, through every row deleted
before, to reach the window: after a bulk import of a million customers on a server without
autovacuum, adding one customer took 35 ms instead of 5.6 ms, and it grew with every change until
the next vacuum. Each change now deletes only the numbers between the window's lower edge before it
(the newest number before its rows, less ``RETAINED``) and after it: everything below was deleted by
the changes before, so the delete starts at the edge and reads no row deleted earlier.

SQLite deletes rows and their index entries at once, so its row triggers (pruning at every 256th
change) stay as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0008 = importlib.import_module("crm_core.migrations.versions.0008_customer_name_changes")
RETAINED: int = _0008.RETAINED
_CHANGED: dict[str, str] = _0008._POSTGRES_CHANGED
_FUNCTION = (
    "CREATE OR REPLACE FUNCTION customer_name_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE token bigint := (random() * 9.0e18)::bigint; changed integer[]; "
    "previous bigint; latest bigint; "
    "BEGIN "
    + " ".join(
        f"{'IF' if i == 0 else 'ELSIF'} TG_OP = '{op_}' THEN {query} INTO changed;"
        for i, (op_, query) in enumerate(_CHANGED.items())
    )
    + " END IF; "
    "IF changed IS NULL THEN RETURN NULL; END IF; "
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, token) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp; "
    # After the stamp row is locked: the newest change committed before this one.
    "SELECT max(version) INTO previous FROM customer_name_changes; "
    "INSERT INTO customer_name_changes (customer_id, stamp) SELECT unnest(changed), token; "
    "SELECT max(version) INTO latest FROM customer_name_changes; "
    f"DELETE FROM customer_name_changes WHERE version < latest - {RETAINED} "
    f"AND (previous IS NULL OR version >= previous - {RETAINED}); "
    "RETURN NULL; END $$"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_0008._POSTGRES_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
