"""The schema is made only by migrations, so the models must describe exactly what they make."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from crm_core.models import Base
from crm_core.store import current_revision, head_revision


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_the_test_store_is_at_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
