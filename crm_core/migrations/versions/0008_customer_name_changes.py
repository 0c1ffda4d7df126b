"""customer name changes: a log of the customers whose name key changed, kept by the same triggers

The name search cached its index of name keys and rebuilt it whole whenever the stamp of migration
0002 moved: 0.3 s at 100k customers and 2 s at 1M, in every process, after every new customer. With
this log a process applies only the customers changed since the index it holds: each insert, delete
and change of ``name_key`` writes one row (the customer's id, and the new stamp), whoever makes it
(another replica, an import, a merge or an erasure, psql), in the same trigger that moves the stamp.

The rows are numbered in the order their transactions commit, which a plain sequence does not give
(a transaction that took number 10 may commit after one that took 11): the trigger first updates the
stamp row, which every name-changing transaction must then lock until it ends (on SQLite the write
lock does the same), and only then takes the next number. A reader that has applied the log up to
one number therefore never finds a lower one appearing later. A number taken by a transaction that
rolls back may be taken again by the next one: the stamp of each row, random, tells them apart.

The log keeps about the last ``RETAINED`` changes (the trigger drops older rows; on SQLite, whose
triggers run per row, at every 256th change), so a process that falls further behind than that (or
finds its last row gone) rebuilds the index.

PostgreSQL's triggers stay one per statement and read its rows from transition tables (those can
name no columns, so every UPDATE fires it, and it keeps the rows whose key changed); TRUNCATE, which
has none, still moves the stamp through 0002's trigger, and a stamp found in no row of the log makes
readers rebuild. On SQLite the 0002 triggers are replaced by these, which move the stamp as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETAINED = 100_000
_PRUNE = (
    f"DELETE FROM customer_name_changes WHERE version < {{latest}} - {RETAINED} AND {{latest}} % 256 = 0;"
)
_SQLITE_EVENTS = {
    "insert": ("INSERT", "NEW", ""),
    "delete": ("DELETE", "OLD", ""),
    "update": ("UPDATE OF name_key", "NEW", " WHEN OLD.name_key IS NOT NEW.name_key"),
}
_SQLITE_BODY = (
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp; "
    "INSERT INTO customer_name_changes (customer_id, stamp) "
    "SELECT {row}.id, stamp FROM customer_names_stamp WHERE id = 1; "
    + _PRUNE.format(latest="(SELECT max(version) FROM customer_name_changes)")
)
# 0002's statement trigger, kept for TRUNCATE only; and the SQLite triggers it made, dropped here.
_SQLITE_0002_EVENTS = {"insert": "INSERT", "delete": "DELETE", "update": "UPDATE OF name_key"}
_SQLITE_0002_BODY = (
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"
)
# One trigger per statement on PostgreSQL, reading the statement's rows from its transition tables:
# a row trigger would update the stamp row once per row, a million row versions for an import.
_POSTGRES_CHANGED = {
    "INSERT": "SELECT array_agg(id ORDER BY id) FROM new_rows",
    "DELETE": "SELECT array_agg(id ORDER BY id) FROM old_rows",
    "UPDATE": "SELECT array_agg(n.id ORDER BY n.id) FROM new_rows n JOIN old_rows o ON o.id = n.id "
    "WHERE n.name_key IS DISTINCT FROM o.name_key",
}
_POSTGRES_FUNCTION = (
    "CREATE FUNCTION customer_name_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE token bigint := (random() * 9.0e18)::bigint; changed integer[]; latest bigint; "
    "BEGIN "
    + " ".join(
        f"{'IF' if i == 0 else 'ELSIF'} TG_OP = '{op_}' THEN {query} INTO changed;"
        for i, (op_, query) in enumerate(_POSTGRES_CHANGED.items())
    )
    + " END IF; "
    "IF changed IS NULL THEN RETURN NULL; END IF; "
    "INSERT INTO customer_names_stamp (id, stamp) VALUES (1, token) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp; "
    "INSERT INTO customer_name_changes (customer_id, stamp) SELECT unnest(changed), token; "
    "SELECT max(version) INTO latest FROM customer_name_changes; "
    f"DELETE FROM customer_name_changes WHERE version < latest - {RETAINED}; "
    "RETURN NULL; END $$"
)
_POSTGRES_TRIGGERS = {
    "insert": "AFTER INSERT ON customers REFERENCING NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON customers REFERENCING OLD TABLE AS old_rows",
    "update": "AFTER UPDATE ON customers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def upgrade() -> None:
    op.create_table(
        "customer_name_changes",
        sa.Column("version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_customer_name_changes")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER customer_names_changed ON customers")
        op.execute(
            "CREATE TRIGGER customer_names_truncated AFTER TRUNCATE ON customers "
            "FOR EACH STATEMENT EXECUTE FUNCTION customer_names_changed()"
        )
        op.execute(_POSTGRES_FUNCTION)
        for name, event in _POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER customer_name_changes_on_{name} {event} "
                "FOR EACH STATEMENT EXECUTE FUNCTION customer_name_changed()"
            )
        return
    for name in _SQLITE_0002_EVENTS:
        op.execute(f"DROP TRIGGER customer_names_changed_on_{name}")
    for name, (event, row, when) in _SQLITE_EVENTS.items():
        op.execute(
            f"CREATE TRIGGER customer_name_changes_on_{name} AFTER {event} ON customers{when} "
            f"BEGIN {_SQLITE_BODY.format(row=row)} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER customer_name_changes_on_{name} ON customers")
        op.execute("DROP FUNCTION customer_name_changed()")
        op.execute("DROP TRIGGER customer_names_truncated ON customers")
        op.execute(
            "CREATE TRIGGER customer_names_changed "
            "AFTER INSERT OR DELETE OR UPDATE OF name_key OR TRUNCATE ON customers "
            "FOR EACH STATEMENT EXECUTE FUNCTION customer_names_changed()"
        )
    else:
        for name in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER customer_name_changes_on_{name}")
        for name, event in _SQLITE_0002_EVENTS.items():
            op.execute(
                f"CREATE TRIGGER customer_names_changed_on_{name} AFTER {event} ON customers "
                f"BEGIN {_SQLITE_0002_BODY} END"
            )
    op.drop_table("customer_name_changes")
