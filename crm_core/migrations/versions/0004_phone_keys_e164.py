"""phone keys in E.164: one key for every way of writing one number

Phone keys were the digits of the number, so "+81 90-1111-2222" (819011112222) and "090-1111-2222"
(09011112222) were two keys for one phone, and a search typed one way missed a customer stored the
other. ``crm_core.identity.phones.phone_key`` now keys numbers in E.164 ("+819011112222"), reading a
number without a country code in ``CRM_PHONE_REGION`` (default JP; ``crm-bot db upgrade`` sets it
from the settings before migrating). This migration recomputes every stored key the same way.

Recomputing can make two customers share a key that migration 0003 keeps unique: the same phone
written once with and once without the country code. Then the upgrade is refused, listing each key
with the external ids of its customers and how to merge them; nothing is changed. (Downgrading
checks the same way.)

No batch table copy on SQLite, which would drop the name-stamp triggers of migration 0002: the keys
are computed in Python, a batch of customers at a time, kept in a scratch table, and written with one
plain UPDATE. Memory stays one batch whatever the size of the store.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from crm_core.errors import SchemaOutOfDate
from crm_core.identity.normalize import phone_digits
from crm_core.identity.phones import phone_key

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000
_SHOWN_PER_KEY = 20  # external ids listed per shared key; the count says how many there are
_SHOWN_KEYS = 50
_SCRATCH = "phone_keys_0004"
_customers = sa.table(
    "customers",
    sa.column("id", sa.Integer),
    sa.column("external_id", sa.String),
    sa.column("phone", sa.String),
    sa.column("phone_key", sa.String),
)
_scratch = sa.table(_SCRATCH, sa.column("customer_id", sa.Integer), sa.column("phone_key", sa.String))


def upgrade() -> None:
    _rekey(phone_key, "0004 (phone keys in E.164)")


def downgrade() -> None:
    _rekey(phone_digits, "0003 (phone keys of digits only)")


def _rekey(key_of: Callable[[str], str], schema: str) -> None:
    bind = op.get_bind()
    op.create_table(
        _SCRATCH,
        sa.Column("customer_id", sa.Integer, primary_key=True),
        sa.Column("phone_key", sa.String(20), nullable=False),
    )
    try:
        _fill_scratch(bind, key_of)
        shared = _shared_keys(bind)
        if shared:
            raise SchemaOutOfDate(_refusal(schema, shared))
        changed = sa.select(_scratch.c.customer_id)
        new_key = (
            sa.select(_scratch.c.phone_key).where(_scratch.c.customer_id == _customers.c.id).scalar_subquery()
        )
        bind.execute(_customers.update().where(_customers.c.id.in_(changed)).values(phone_key=new_key))
    finally:
        op.drop_table(_SCRATCH)


def _fill_scratch(bind: sa.Connection, key_of: Callable[[str], str]) -> None:
    """The new key of every customer whose key changes, read and written a batch at a time."""
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(_customers.c.id, _customers.c.phone, _customers.c.phone_key)
            .where(_customers.c.id > last_id, _customers.c.phone.is_not(None))
            .order_by(_customers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1][0]
        changes = [
            {"customer_id": customer_id, "phone_key": new}
            for customer_id, phone, old in rows
            if (new := key_of(phone) or None) is not None and new != old
        ]
        if changes:
            bind.execute(_scratch.insert(), changes)


def _shared_keys(bind: sa.Connection) -> list[str]:
    """Each new key held by more than one customer once written: two new ones, or a new and a kept one."""
    changed = sa.select(_scratch.c.customer_id)
    after = sa.union_all(
        sa.select(_scratch.c.customer_id.label("id"), _scratch.c.phone_key),
        sa.select(_customers.c.id, _customers.c.phone_key).where(
            _customers.c.phone_key.in_(sa.select(_scratch.c.phone_key)), _customers.c.id.not_in(changed)
        ),
    ).subquery()
    shared = sa.select(after.c.phone_key).group_by(after.c.phone_key).having(sa.func.count() > 1)
    rows = bind.execute(
        sa.select(after.c.phone_key, _customers.c.external_id, _customers.c.phone)
        .join(_customers, _customers.c.id == after.c.id)
        .where(after.c.phone_key.in_(shared))
        .order_by(after.c.phone_key, _customers.c.id)
    ).all()
    holders: dict[str, list[str]] = {}
    for key, external_id, phone in rows:
        holders.setdefault(key, []).append(f"{external_id} ({phone!r})")
    return [f"phone {key} would be held by {_listed(held)}" for key, held in holders.items()]


def _listed(holders: list[str]) -> str:
    shown = ", ".join(holders[:_SHOWN_PER_KEY])
    rest = len(holders) - _SHOWN_PER_KEY
    return f"{shown} and {rest} more" if rest > 0 else shown


def _refusal(schema: str, shared: list[str]) -> str:
    more = len(shared) - _SHOWN_KEYS
    listing = "; ".join(shared[:_SHOWN_KEYS]) + (f"; and {more} more shared keys" if more > 0 else "")
    return (
        f"cannot move the store to schema {schema}: some customers hold one phone number written "
        f"in different ways ({listing}). These are records of the same person: merge each group into "
        "one with `crm-bot customers merge KEEP_EXTERNAL_ID OTHER_EXTERNAL_ID`, then run "
        "`crm-bot db upgrade` again. Nothing was changed."
    )
