"""Migration 0009: the PostgreSQL trigger prunes only the changes its own change pushes out of the
log's window (not every row below it, which walked each row deleted before until a vacuum)."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, text

from crm_core.models import Customer, CustomerNameChange
from tests.crm_core.test_migrations import _migrate
from tests.crm_core.test_unique_contact_keys import _postgres_store

RETAINED = 100_000


def _add(engine: Engine, *names: str) -> None:
    """Customers added in one statement, as an import (or psql) would."""
    rows = [{"external_id": f"C-{name}", "name": name, "name_key": name.lower()} for name in names]
    with engine.begin() as connection:
        connection.execute(insert(Customer), rows)


def _logged(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.scalars(select(CustomerNameChange.version).order_by(CustomerNameChange.version))
        )


def test_a_change_deletes_just_the_numbers_it_pushes_out_of_the_window() -> None:
    """PostgreSQL only (needs it, else skipped): SQLite keeps 0008's triggers, and goes through 0009
    up and down in ``test_migrations``."""
    stores = _postgres_store()
    engine = next(stores)
    try:
        _migrate(engine, "0009")
        # A log whose window starts at 100,000 (the newest change is 200,000). Rows below the edge
        # cannot be there in a real log (the changes before deleted them): left here, they show
        # what the delete reads.
        below_edge = [10, RETAINED - 2]
        kept = [RETAINED + 1, RETAINED + 2, 2 * RETAINED]
        with engine.begin() as connection:
            connection.execute(
                insert(CustomerNameChange),
                [{"version": v, "customer_id": 0, "stamp": 0} for v in [*below_edge, RETAINED, *kept]],
            )
            connection.execute(
                text("SELECT setval('customer_name_changes_version_seq', :v)"), {"v": 2 * RETAINED}
            )
        _add(engine, "Acme")  # number 200,001 pushes 100,000 out, and only that
        assert _logged(engine) == [*below_edge, *kept, 2 * RETAINED + 1]
        _add(engine, "Globex", "Initech")  # 200,002 and 200,003 push out 100,001 and 100,002
        assert _logged(engine) == [*below_edge, 2 * RETAINED, *range(2 * RETAINED + 1, 2 * RETAINED + 4)]
        _migrate(engine, "0008", down=True)  # 0008's trigger deletes everything below the window
        _add(engine, "Umbrella")
        assert _logged(engine) == [2 * RETAINED, *range(2 * RETAINED + 1, 2 * RETAINED + 5)]
        _migrate(engine, "0009")  # and up again: still logged, still the window kept
        _add(engine, "Hooli")
        assert _logged(engine) == [2 * RETAINED, *range(2 * RETAINED + 1, 2 * RETAINED + 6)]
    finally:
        engine.dispose()
        next(stores, None)
