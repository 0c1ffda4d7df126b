"""unique contact keys: one customer per e-mail and per phone key, whoever writes

``create_customer`` and the customers import refuse an e-mail or phone that belongs to someone else,
but they check by reading first: on PostgreSQL two creates at once both read nothing and both insert,
and a script or psql never checks at all. The indexes on ``customers.email`` and
``customers.phone_key`` become unique, so the database itself keeps one customer per key.

Before that, the store is made to say what already breaks the rule. Stored e-mails lose Unicode
format characters first (zero-width, bidi controls), as ``normalize_email`` now removes them, so an
address hidden behind one is seen as the duplicate it is. If any key is shared, the upgrade is
refused, listing each key with the external ids of its customers and how to merge them; nothing
is changed. Erased customers hold no keys (NULL), and NULL never collides with NULL in a unique
index, so they never block the upgrade. Empty keys are made NULL, which they always meant.

A plain CREATE UNIQUE INDEX on both stores: no batch table copy on SQLite, which would drop the
name-stamp triggers of migration 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_core.errors import SchemaOutOfDate

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {"email": "e-mail", "phone_key": "phone"}
_SHOWN_PER_KEY = 20  # external ids listed per shared key; the count says how many there are
_SHOWN_KEYS = 50
_customers = sa.table(
    "customers",
    sa.column("id", sa.Integer),
    sa.column("external_id", sa.String),
    sa.column("email", sa.String),
    sa.column("phone_key", sa.String),
)


def upgrade() -> None:
    bind = op.get_bind()
    for column in _KEYS:
        bind.execute(_customers.update().where(_customers.c[column] == "").values({column: None}))
    _strip_format_characters_from_emails(bind)
    shared = [problem for column, label in _KEYS.items() for problem in _shared_keys(bind, column, label)]
    if shared:
        raise SchemaOutOfDate(_refusal(shared))
    for column in _KEYS:
        op.drop_index(f"ix_customers_{column}", table_name="customers")
        op.create_index(f"ix_customers_{column}", "customers", [column], unique=True)


def downgrade() -> None:
    for column in _KEYS:
        op.drop_index(f"ix_customers_{column}", table_name="customers")
        op.create_index(f"ix_customers_{column}", "customers", [column], unique=False)


def _strip_format_characters_from_emails(bind: sa.Connection) -> None:
    """Only addresses holding a character outside printable ASCII can hold one; others are not read."""
    if bind.dialect.name == "postgresql":
        unusual = _customers.c.email.regexp_match("[^ -~]")
    else:
        unusual = _customers.c.email.op("GLOB")("*[^ -~]*")
    rows = bind.execute(sa.select(_customers.c.id, _customers.c.email).where(unusual)).all()
    for customer_id, email in rows:
        visible = "".join(ch for ch in email if unicodedata.category(ch) != "Cf").strip()
        if visible != email:
            bind.execute(
                _customers.update().where(_customers.c.id == customer_id).values(email=visible or None)
            )


def _shared_keys(bind: sa.Connection, column: str, label: str) -> list[str]:
    key = _customers.c[column]
    shared = sa.select(key).where(key.is_not(None)).group_by(key).having(sa.func.count() > 1)
    rows = bind.execute(
        sa.select(key, _customers.c.external_id).where(key.in_(shared)).order_by(key, _customers.c.id)
    ).all()
    holders: dict[str, list[str]] = {}
    for value, external_id in rows:
        holders.setdefault(value, []).append(external_id)
    return [f"{label} {value!r} is held by {_listed(ids)}" for value, ids in holders.items()]


def _listed(external_ids: list[str]) -> str:
    shown = ", ".join(external_ids[:_SHOWN_PER_KEY])
    rest = len(external_ids) - _SHOWN_PER_KEY
    return f"{shown} and {rest} more" if rest > 0 else shown


def _refusal(shared: list[str]) -> str:
    more = len(shared) - _SHOWN_KEYS
    listing = "; ".join(shared[:_SHOWN_KEYS]) + (f"; and {more} more shared keys" if more > 0 else "")
    return (
        "cannot upgrade the store to schema 0003 (one customer per e-mail and per phone): some "
        f"customers share one ({listing}). These are records of the same person: merge each group "
        "into one with `crm-bot customers merge KEEP_EXTERNAL_ID OTHER_EXTERNAL_ID`, then run "
        "`crm-bot db upgrade` again. Nothing was changed."
    )
