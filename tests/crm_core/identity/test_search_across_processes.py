"""The name index follows changes made by other processes without being rebuilt: each change another
process commits (a new customer, a rename, a deletion, a merge, an erasure) is seen by this process's
next search, read from the log the triggers keep (migration 0008)."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, insert, select, update
from sqlalchemy.orm import Session

from crm_core.identity import search
from crm_core.identity.search import search_customers
from crm_core.models import Customer, CustomerNameChange, CustomerNamesStamp
from crm_core.store import make_engine, reading, transaction
from tests.factories import customer

# Another process, writing through the services as the CLI or another replica would.
_OTHER_PROCESS = """
import sys
from sqlalchemy import update
from crm_core.customers.service import create_customer, merge_customers
from crm_core.models import Customer
from crm_core.privacy.service import erase_customer
from crm_core.store import make_engine, transaction
from tests.factories import TEST_ACTOR

url, action, *args = sys.argv[1:]
engine = make_engine(url)
with transaction(engine) as session:
    if action == "add":
        create_customer(session, actor=TEST_ACTOR, name=args[0])
    elif action == "rename":
        renamed = update(Customer).where(Customer.external_id == args[0])
        session.execute(renamed.values(name=args[1], name_key=args[1].lower()))
    elif action == "delete":
        session.query(Customer).filter(Customer.external_id == args[0]).delete()
    elif action == "merge":
        merge_customers(session, actor=TEST_ACTOR, keep=args[0], other=args[1])
    elif action == "erase":
        erase_customer(session, actor=TEST_ACTOR, query=args[0])
"""


def _in_another_process(database_url: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, database_url, *args], check=True, timeout=60)


def _found(engine: Engine, query: str) -> list[str]:
    with transaction(engine) as session:
        return [match.customer.external_id for match in search_customers(session, query=query, cutoff=90)]


def _base(engine: Engine) -> object:
    return search._indexes[str(engine.url)].base


@pytest.fixture
def searched(engine: Engine) -> Iterator[Engine]:
    """A store with a few hundred customers whose index this process has built."""
    with transaction(engine) as session:
        for number in range(300):
            customer(session, f"Other Customer {number:03d}")
    assert _found(engine, "Other Customer 007")
    yield engine


def test_changes_by_another_process_are_seen_by_the_next_search_without_a_rebuild(
    searched: Engine, database_url: str
) -> None:
    base = _base(searched)
    _in_another_process(database_url, "add", "Arriving Trading")
    [arrived] = _found(searched, "Arriving Trading")
    _in_another_process(database_url, "rename", arrived, "Renamed Foods")
    assert _found(searched, "Arriving Trading") == []
    assert _found(searched, "Renamed Foods") == [arrived]
    _in_another_process(database_url, "add", "Twin Holdings")
    _in_another_process(database_url, "add", "Twin Holdings Ltd")
    twins = _found(searched, "Twin Holdings")
    assert len(twins) == 2
    _in_another_process(database_url, "merge", twins[0], twins[1])
    assert _found(searched, "Twin Holdings") == [twins[0]]
    _in_another_process(database_url, "erase", twins[0])
    assert _found(searched, "Twin Holdings") == []
    _in_another_process(database_url, "delete", arrived)
    assert _found(searched, "Renamed Foods") == []
    assert _found(searched, "Other Customer 007")  # the customers that did not change are still there
    assert _base(searched) is base  # followed the log, never read the whole table again


def test_customers_renamed_away_from_a_shared_name_leave_the_next_ones_in_id_order(
    searched: Engine, database_url: str
) -> None:
    """Many customers share a name; those renamed since the index was read are skipped, the rest
    still come in id order up to the limit (the base's long lists are filtered only as far as read)."""
    with transaction(searched) as session:
        shared = [customer(session, "Shared Name Trading").external_id for _ in range(40)]
    assert _found(searched, "Shared Name Trading") == shared[:10]
    base = _base(searched)
    other = make_engine(database_url)
    try:
        with other.begin() as connection:
            renamed = update(Customer).where(Customer.external_id.in_(shared[:3] + shared[5:7]))
            connection.execute(renamed.values(name="Moved Away Foods", name_key="moved away foods"))
    finally:
        other.dispose()
    kept = shared[3:5] + shared[7:]
    assert _found(searched, "Shared Name Trading") == kept[:10]
    assert sorted(_found(searched, "Moved Away Foods")) == sorted(shared[:3] + shared[5:7])
    assert _base(searched) is base


def test_changes_past_the_newest_segment_are_folded_and_a_customer_changed_again_is_skipped_there(
    searched: Engine, database_url: str
) -> None:
    """Newest changes are indexed apart and folded in after ``_NEWEST_MAX`` of them; a customer
    renamed before a fold and again after it is found by its last name only, in every segment."""
    with transaction(searched) as session:
        moving = customer(session, "Moving Target Trading").external_id
    assert _found(searched, "Moving Target Trading") == [moving]
    base = _base(searched)
    other = make_engine(database_url)

    def rename(external_id: str, name: str) -> None:
        with other.begin() as connection:
            changed = update(Customer).where(Customer.external_id == external_id)
            connection.execute(changed.values(name=name, name_key=name.lower()))

    def arrivals(first: int, count: int) -> None:
        for number in range(first, first + count):  # one commit each, as customers arrive
            with other.begin() as connection:
                connection.execute(
                    insert(Customer).values(
                        external_id=f"C-ARR-{number}", name=f"Arrival {number}", name_key=f"arrival {number}"
                    )
                )
            assert _found(searched, f"Arrival {number}")[0] == f"C-ARR-{number}"

    try:
        rename(moving, "Second Name Foods")
        arrivals(0, search._NEWEST_MAX + 5)  # folds: the rename is now in the folded segment
        assert _found(searched, "Second Name Foods") == [moving]
        rename(moving, "Third Name Holdings")  # newest: the folded key must be skipped
        assert _found(searched, "Second Name Foods") == []
        assert _found(searched, "Moving Target Trading") == []
        assert _found(searched, "Third Name Holdings") == [moving]
        with other.begin() as connection:
            connection.execute(delete(Customer).where(Customer.external_id == "C-ARR-3"))
        assert "C-ARR-3" not in _found(searched, "Arrival 3")  # deleted after its fold
        arrivals(1000, search._NEWEST_MAX + 5)  # folds again, the last rename and deletion with it
        assert _found(searched, "Third Name Holdings") == [moving]
        assert _found(searched, "Second Name Foods") == []
        assert "C-ARR-3" not in _found(searched, "Arrival 3")
        assert _found(searched, "Arrival 4")[0] == "C-ARR-4"
    finally:
        other.dispose()
    assert _base(searched) is base  # all of it from the log, never the whole table again


_WORDS = ("Acme", "Globex", "Initech", "Trading", "Foods", "Holdings", "Ito", "Sato", "Other", "Customer")


def _ranked(engine: Engine, query: str) -> list[tuple[str, float]]:
    with transaction(engine) as session:
        return [(match.customer.external_id, match.score) for match in search_customers(session, query=query)]


def test_each_search_after_a_change_finds_what_an_index_read_afresh_finds(
    searched: Engine, database_url: str
) -> None:
    """Another engine adds, renames and deletes customers whose names share words with each other and
    with the store's (ties, long lists, folds of the newest segment); after each change one search
    brings the index up to date, and what it finds, in order and with scores, must be what an index
    built from the whole table finds. That search first scores with the index before the change and
    keeps what it found when the change cannot touch it: this holds that shortcut, and every
    segment's skipping, to the plain answer."""
    rng = random.Random(13)
    other = make_engine(database_url)
    held_key, base = str(searched.url), _base(searched)
    with transaction(searched) as session:
        rows = session.execute(select(Customer.external_id, Customer.name))
        names: dict[str, str] = {external_id: name for external_id, name in rows}
    try:
        for step in range(2 * search._NEWEST_MAX + 20):
            name = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
            action = rng.choice(("add", "add", "two", "rename", "delete"))
            # Half the time the customer changed last: changed again while in the newest segment.
            chosen = list(names)[rng.choice((-1, rng.randrange(len(names))))]
            earlier = names[chosen]
            with other.begin() as connection:
                if action in ("add", "two"):  # two: namesakes, in one transaction
                    for external_id in [f"C-STEP-{step}", f"C-TWIN-{step}"][: 2 if action == "two" else 1]:
                        names[external_id] = name
                        row = {"external_id": external_id, "name": name, "name_key": name.lower()}
                        connection.execute(insert(Customer).values(**row))
                elif action == "rename":
                    names[chosen] = names.pop(chosen)  # now the one changed last
                    names[chosen] = name
                    changed = update(Customer).where(Customer.external_id == chosen)
                    connection.execute(changed.values(name=name, name_key=name.lower()))
                else:
                    del names[chosen]
                    connection.execute(delete(Customer).where(Customer.external_id == chosen))
            query = rng.choice([name, earlier, " ".join(rng.sample(_WORDS, 2)), "Other Customer 1"])
            followed = _ranked(searched, query)
            held = search._indexes.pop(held_key)
            assert followed == _ranked(searched, query), (step, action, query)
            search._indexes[held_key] = held
    finally:
        other.dispose()
    assert _base(searched) is base  # followed the log throughout


@contextmanager
def _in_an_older_snapshot(searched: Engine, reader: Engine, database_url: str) -> Iterator[Session]:
    """A reading unit on ``reader`` whose snapshot predates the index (on SQLite a reading unit's
    snapshot begins at its first read; on PostgreSQL, repeatable read): Early Bird Trading committed
    before it begins, Late Bird Foods after, and the index brought past it by another search."""
    older = (
        reader
        if reader.dialect.name == "sqlite"
        else reader.execution_options(isolation_level="REPEATABLE READ")
    )
    other = make_engine(database_url)
    try:
        _add_and_commit(other, "Early Bird Trading")
        with reading(older) as session:
            session.scalar(select(CustomerNamesStamp.stamp))  # the snapshot begins here
            _add_and_commit(other, "Late Bird Foods")
            assert len(_found(searched, "Late Bird Foods")) == 1  # the index moves past the snapshot
            yield session
    finally:
        other.dispose()


def test_a_search_in_an_older_snapshot_is_served_by_the_newer_index_without_a_rebuild(
    searched: Engine, database_url: str
) -> None:
    """A search whose snapshot predates the index another search brought up to date meanwhile used
    to rebuild the whole index from its older snapshot: seconds at 1M customers, every search
    waiting. The newer index serves it; what its snapshot cannot see yet is left out."""
    base = _base(searched)
    with _in_an_older_snapshot(searched, searched, database_url) as session:
        early = search_customers(session, query="Early Bird Trading", cutoff=90)
        late = search_customers(session, query="Late Bird Foods", cutoff=90)
    assert [match.customer.name for match in early] == ["Early Bird Trading"]
    assert late == []
    assert _base(searched) is base
    assert len(_found(searched, "Late Bird Foods")) == 1


def test_a_search_in_an_older_snapshot_takes_no_second_connection_from_its_pool(
    searched: Engine, database_url: str
) -> None:
    """Telling whether the newer index's last change is committed needs a read outside the search's
    snapshot. It runs under the build lock, while every other search that found the index stale holds
    a connection of the same pool and waits for that lock: from that pool, the lock holder waited for
    one of theirs (30 s, then TimeoutError). With a pool of one connection, held by the search itself,
    the search still completes, served by the newer index."""
    base = _base(searched)
    small = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=1)
    try:
        with _in_an_older_snapshot(searched, small, database_url) as session:
            early = search_customers(session, query="Early Bird Trading", cutoff=90)
    finally:
        small.dispose()
    assert [match.customer.name for match in early] == ["Early Bird Trading"]
    assert _base(searched) is base


def test_an_index_that_applied_a_change_rolled_back_is_not_kept_for_the_stamp_before(
    searched: Engine,
) -> None:
    """The stamp read after a rollback is that of the change before the undone one, as it is for a
    search in an older snapshot; but the undone change is in no committed row, so the index rebuilds."""
    kept = _found(searched, "Other Customer 007")[0]
    with pytest.raises(RuntimeError), transaction(searched) as session:
        renamed = update(Customer).where(Customer.external_id == kept)
        session.execute(renamed.values(name="Undone Name", name_key="undone name"))
        assert search_customers(session, query="Undone Name", cutoff=90)  # cached with the rename
        raise RuntimeError("the action failed")
    assert _found(searched, "Other Customer 007")[0] == kept
    assert _found(searched, "Undone Name") == []


def test_the_one_change_since_the_index_is_applied_from_the_stamp_row_without_reading_the_log(
    searched: Engine, database_url: str
) -> None:
    """A customer added, renamed or deleted alone by another engine is described by the stamp row
    the search reads anyway (migration 0010): the next search applies it without a statement on
    the log. After two changes, or one statement that changed several customers on PostgreSQL, the
    row describes only the last, so the log is read."""
    other = make_engine(database_url)
    logged: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "customer_name_changes" in statement:
            logged.append(statement)

    def change(*statements: Any) -> None:
        with other.begin() as connection:
            for statement in statements:
                connection.execute(statement)

    def row(external_id: str, name: str) -> dict[str, str]:
        return {"external_id": external_id, "name": name, "name_key": name.lower()}

    event.listen(searched, "before_cursor_execute", seen)
    try:
        change(insert(Customer).values(**row("C-ONE", "Lone Arrival")))
        assert _found(searched, "Lone Arrival") == ["C-ONE"]
        renamed = update(Customer).where(Customer.external_id == "C-ONE")
        change(renamed.values(name="Lone Rename", name_key="lone rename"))
        assert _found(searched, "Lone Rename") == ["C-ONE"]
        assert _found(searched, "Lone Arrival") == []
        change(delete(Customer).where(Customer.external_id == "C-ONE"))
        assert _found(searched, "Lone Rename") == []
        assert logged == []
        change(
            insert(Customer).values(**row("C-TWO", "Pair Trading")),
            insert(Customer).values(**row("C-2B", "Pair Foods")),
        )
        assert _found(searched, "Pair Trading") == ["C-TWO"]
        assert _found(searched, "Pair Foods") == ["C-2B"]
        assert len(logged) == 1
        change(insert(Customer).values([row("C-M1", "Many Holdings"), row("C-M2", "Many Holdings")]))
        assert _found(searched, "Many Holdings") == ["C-M1", "C-M2"]
        assert len(logged) == 2
    finally:
        event.remove(searched, "before_cursor_execute", seen)
        other.dispose()


def test_a_log_pruned_past_the_index_makes_the_next_search_rebuild(
    searched: Engine, database_url: str
) -> None:
    base = _base(searched)
    other = make_engine(database_url)
    try:
        with other.begin() as connection:
            for number in (1, 2):  # two changes: the stamp row describes only the last one
                row = {"external_id": f"C-NEW-{number}", "name": "Late Arrival", "name_key": "late arrival"}
                connection.execute(insert(Customer).values(**row))
            connection.execute(delete(CustomerNameChange))  # as if the log had moved on without us
        assert _found(searched, "Late Arrival") == ["C-NEW-1", "C-NEW-2"]
        assert _base(searched) is not base
    finally:
        other.dispose()


def test_changes_that_commit_out_of_order_are_all_seen(engine: Engine, database_url: str) -> None:
    """A change numbered before one that commits first must not be skipped by a reader in between."""
    if not database_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite: commits out of order need postgres")
    assert _found(engine, "Nobody Yet") == []
    first_writer = make_engine(database_url)
    second_writer = make_engine(database_url)
    try:
        with Session(first_writer) as first:
            customer(first, "Slow Commit Trading")  # numbered first, committed last
            second = threading.Thread(target=_add_and_commit, args=(second_writer, "Quick Commit Foods"))
            second.start()
            second.join(timeout=1.0)
            _found(engine, "Quick Commit Foods")  # a search between the two commits
            first.commit()
        second.join(timeout=30)
        assert not second.is_alive()
        assert len(_found(engine, "Slow Commit Trading")) == 1
        assert len(_found(engine, "Quick Commit Foods")) == 1
    finally:
        first_writer.dispose()
        second_writer.dispose()


def _add_and_commit(engine: Engine, name: str) -> None:
    with transaction(engine) as session:
        customer(session, name)


def test_a_rename_committed_between_the_rows_read_and_the_index_update_is_shown_as_renamed(
    engine: Engine, database_url: str
) -> None:
    """The rows come with the stamp, before a stale index is brought up to date. A rename another
    replica commits in between is in the index by then (on PostgreSQL each statement of a reader sees
    what has committed), so the rows are read again: a customer is never scored by its new name and
    shown, or weighed, by its old one. On SQLite the reader's snapshot holds, and it sees neither."""
    with transaction(engine) as session:
        trading = customer(session, "Acme Trading").external_id
        bare = customer(session, "Acme").external_id
    assert _found(engine, "Acme") == [bare, trading]  # the index is held, at this stamp
    other = make_engine(database_url)
    with other.begin() as connection:  # two changes: the stamp row tells only the last, so the log is read
        for name in ("Zeta Foods", "Zeta Holdings"):
            connection.execute(insert(Customer).values(external_id=name, name=name, name_key=name.lower()))
    renamed: list[str] = []

    def rename_after_the_rows(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "names_stamp" in statement and not renamed:
            renamed.append(trading)
            with other.begin() as connection:
                rename = update(Customer).where(Customer.external_id == trading)
                connection.execute(rename.values(name="Acme", name_key="acme"))

    event.listen(engine, "after_cursor_execute", rename_after_the_rows)
    try:
        with reading(engine) as session:
            matches = search_customers(session, query="Acme")
    finally:
        event.remove(engine, "after_cursor_execute", rename_after_the_rows)
        other.dispose()
    assert renamed
    assert {m.customer.external_id for m in matches} == {bare, trading}
    for match in matches:  # the name shown is the one scored: only "Acme" itself scores 100
        assert (match.score == 100) == (match.customer.name == "Acme"), match
    if database_url.startswith("postgresql"):
        assert [m.customer.name for m in matches] == ["Acme", "Acme"]
