"""inbox: what was acknowledged to Slack, kept until a worker has answered it

Before this, an acknowledged request waited for a worker in process memory only: a crash or a
SIGKILL lost every one still queued, and Slack does not resend what was acknowledged. Each request
answered after its ack is now a row, inserted before the ack returns and marked done in the
handler's own transaction. ``key`` (Slack's trigger id or event id) is unique, so a replayed command
or a retried event is stored once. ``done_at`` is indexed: the backlog (``done_at IS NULL``) and the
rate of recent work are counted on it, and done rows are purged by it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("handler", sa.String(length=100), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("key", name=op.f("uq_inbox_key")),
    )
    op.create_index(op.f("ix_inbox_done_at"), "inbox", ["done_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_done_at"), table_name="inbox")
    op.drop_table("inbox")
