"""Alembic environment: runs on the connection crm-bot hands over, or on DATABASE_URL from the CLI."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from crm_core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL") or "sqlite:///crm.sqlite3"
    connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.begin() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=is_sqlite)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
