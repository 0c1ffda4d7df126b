"""customer names stamp: a one-row table that triggers change with every change to customer names

The name search keeps its index of name keys in memory and checked it on every search against
``count(*), max(updated_at), max(id)`` of ``customers``: a full scan of ``updated_at`` (no index) on
SQLite and an index-only count on PostgreSQL, 12 to 70 ms at 100k customers. Reading this row
instead costs well under a millisecond. Triggers, not the services, keep it current, so that writes
from anywhere (another replica, an import, a merge or an erasure, a script, psql) are seen.

SQLite has only row triggers; PostgreSQL fires one trigger per statement (and on TRUNCATE, which
fires no row triggers). The trigger upserts the row, so a store whose row was deleted (a test that
empties every table) gets it back at the next change; until then the search, finding no row, does
not trust its cache at all.

Beware on SQLite: a later batch migration that copies ``customers`` into a new table drops these
triggers with the old one; such a migration must create them again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPSERT_SQLITE = (
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"
)
# random() is a double in [0, 1) on PostgreSQL; scaled into bigint, it has 52 random bits.
_UPSERT_POSTGRES = (
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, (random() * 9.0e18)::bigint) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"
)
_SQLITE_EVENTS = {"insert": "INSERT", "delete": "DELETE", "update": "UPDATE OF name_key"}


def upgrade() -> None:
    op.create_table(
        "customer_names_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_customer_names_stamp_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_names_stamp")),
    )
    op.execute("INSERT INTO customer_names_stamp (id, stamp) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION customer_names_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_UPSERT_POSTGRES} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER customer_names_changed "
            "AFTER INSERT OR DELETE OR UPDATE OF name_key OR TRUNCATE ON customers "
            "FOR EACH STATEMENT EXECUTE FUNCTION customer_names_changed()"
        )
        return
    for name, event in _SQLITE_EVENTS.items():
        op.execute(
            f"CREATE TRIGGER customer_names_changed_on_{name} AFTER {event} ON customers "
            f"BEGIN {_UPSERT_SQLITE} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER customer_names_changed ON customers")
        op.execute("DROP FUNCTION customer_names_changed()")
    else:
        for name in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER customer_names_changed_on_{name}")
    op.drop_table("customer_names_stamp")
