"""Finding customers from what people type: contact details exactly, names forgivingly.

An e-mail address or a phone number matches exactly or not at all: an address nobody has is a
customer to create, not a reason to list names that look a bit like it (``contact_query``).

Fuzzy matching runs over the name keys of every customer, so the keys are kept in a per-engine
cache. Each search reads the one-row ``customer_names_stamp``, which database triggers change on
every insert, delete and name-key change of ``customers``, whoever makes it (migrations 0002 and
0008): the cache makes search fast, the stamp keeps it correct when other replicas write. It is read
in the same statement as the customers the cached index scores best (``_by_name``), and checked
before they are used. When the stamp has moved, the same triggers' log (``customer_name_changes``)
says which customers changed since the index was made, and only those are read again: a customer
added by another process costs the next search a millisecond, not a rebuild of the whole index
(0.3 s at 100k customers, 2 s at 1M). Most often one customer changed, and the stamp's row, read
with the stamp, says which (migration 0010): then the log is not read at all. A change made inside
the caller's own transaction is seen at once, and one rolled back is never seen again.

Only keys that share enough character pairs or a word with the query are scored (see
``prefilter``): WRatio over 100k distinct names takes about 190 ms. Each distinct key is scored once
(many customers share a name: 佐藤 健太, John Smith) and with ``process.cdist``, which releases the
interpreter lock while it scores: ``process.extract`` held it for the whole scan, so one search in a
lazy listener stalled every other thread of the server, including the acks Slack waits for.
"""

from __future__ import annotations

import heapq
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from itertools import islice
from typing import Any, Protocol

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, Row, Select, Table, Text, bindparam, cast, literal, or_, select, true
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.errors import Ambiguous, NoMatch
from crm_core.identity.normalize import (
    looks_like_phone,
    name_designators,
    normalize_email,
    normalize_name,
    same_name_key,
)
from crm_core.identity.phones import phone_key
from crm_core.identity.prefilter import FewKeys, PairIndex
from crm_core.models import Customer, CustomerNameChange, CustomerNamesStamp
from crm_core.store import read_aside
from crm_core.text import searchable

EXACT = 100.0
CANDIDATE_SCORE = 72.0
SUGGESTION_SCORE = 55.0
CLEAR_WINNER_SCORE = 88.0
CLEAR_WINNER_GAP = 8.0
# WRatio's own constants (rapidfuzz.fuzz.WRatio): a partial match is tried once one string is 1.5
# times as long as the other, scaled by 0.9 (0.6 beyond 8 times); token scores are scaled by 0.95.
_WRATIO_PARTIAL_RATIO = 1.5
_WRATIO_LONG_RATIO = 8.0
_WRATIO_PARTIAL_SCALE = 0.9
_WRATIO_LONG_SCALE = 0.6
_WRATIO_TOKEN_SCALE = 0.95
_CJK_CHARACTER = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")


@dataclass(frozen=True)
class ContactQuery:
    """A query that is an e-mail address or a phone number, with the key the store matches it on."""

    kind: str  # "email" or "phone"
    key: str


def contact_query(text: str) -> ContactQuery | None:
    """What ``text`` is as a contact detail, or None when it is to be read as a name or an id."""
    if "@" in text:
        return ContactQuery("email", normalize_email(text))
    if looks_like_phone(text):
        return ContactQuery("phone", phone_key(text))
    return None


@dataclass(frozen=True)
class Match:
    customer: CustomerView
    score: float
    matched_on: str  # "email", "phone", "external_id" or "name"


@dataclass(frozen=True)
class _Segment:
    """Distinct name keys, the customers holding each (ids ascending), and the keys' pair index."""

    distinct_keys: list[str]
    customers_of: list[list[int]]
    pairs: PairIndex | FewKeys

    @classmethod
    def of(cls, names: Iterable[tuple[int, str]]) -> _Segment:
        """Group ``names`` (customer id and key, ids ascending) by key."""
        groups = _grouped(names)
        return cls(list(groups), list(groups.values()), PairIndex.of(list(groups)))

    @classmethod
    def of_few(cls, names: Iterable[tuple[int, str]], known: _Segment) -> _Segment:
        """``of`` for the few customers changed last, taking over the pairs ``known`` worked out."""
        groups = _grouped(names)
        previous = known.pairs if isinstance(known.pairs, FewKeys) else None
        return cls(list(groups), list(groups.values()), FewKeys.of(list(groups), previous))

    def with_arrivals(self, arrivals: list[tuple[int, str]]) -> _Segment | None:
        """This few-key segment with ``arrivals`` added, customers whose ids are above every id it
        holds (ascending): the usual change, a new customer, then costs only its own key. None when
        this is not a few-key segment."""
        if not isinstance(self.pairs, FewKeys):
            return None
        keys, customers = list(self.distinct_keys), list(self.customers_of)
        added: dict[str, int] = {}
        for customer_id, key in arrivals:
            position = self.pairs.positions.get(key, added.get(key))
            if position is None:
                added[key] = len(keys)
                keys.append(key)
                customers.append([customer_id])
            else:
                customers[position] = [*customers[position], customer_id]
        return _Segment(keys, customers, self.pairs.extended(list(added)))


def _grouped(names: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for customer_id, key in names:
        groups.setdefault(key, []).append(customer_id)
    return groups


class _Change(Protocol):
    """A change of the log, as ``_NameIndex.updated`` applies it (a row of ``_CHANGES_SINCE``)."""

    @property
    def version(self) -> int: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def stamp(self) -> int: ...


@dataclass(frozen=True)
class _LastChange:
    """The change that set the names stamp, as its row says (migration 0010), read with the search.

    When it follows the stamp an index is current for, it is the only change since, and applying it
    takes no read of the log: the round trip that a search after another process's new customer paid
    (0.1 ms on SQLite, 0.4-0.7 ms on PostgreSQL at 1M customers).
    """

    stamp: int
    previous_stamp: int
    version: int
    customer_id: int
    name_key: str | None

    @classmethod
    def of(cls, row: Row[Any]) -> _LastChange | None:
        """The change in ``row`` (a ``_BY_NAME`` row), or None when it names no single customer."""
        if None in (row.names_stamp, row.previous_stamp, row.last_version, row.last_customer_id):
            return None
        return cls(
            row.names_stamp, row.previous_stamp, row.last_version, row.last_customer_id, row.last_name_key
        )


# Customers to skip in a segment, in one or two dicts (changes by customer id), none when empty.
_Skipped = tuple[dict[int, str | None], ...]


@dataclass(frozen=True)
class _NameIndex:
    """Every customer's name key: a base read from the whole table, and the customers changed since.

    The customers changed since the base was read, each with its key now (None: deleted), are in two
    parts, skipped in ``base``: ``folded_changes``, the changes up to the last fold, whose keys are
    in the ``folded`` segment, and ``newest``, the changes after it, whose customers ``folded`` skips
    in turn (changed again since). A change copies and re-indexes ``newest`` only (at most
    ``_NEWEST_MAX`` customers), in plain Python and only for keys new to it (``FewKeys``: a
    ``PairIndex`` cost 100-300 µs however few the keys); the folded part is rebuilt once that many
    have gathered. Re-indexing every change since the base at each change cost a search after an
    arrival milliseconds, growing with the changes kept (up to 8,192 at 1M customers), and copying
    them cost it as much as the rest of its upkeep. ``stamp`` is the stamp this index is current for
    and ``version`` the last change of the log it has applied (None: the log was empty, so the index
    can only be rebuilt). Never changed once made: searching threads share it.
    """

    stamp: int | None
    version: int | None
    base_names: list[tuple[int, str]]
    base: _Segment
    folded_changes: dict[int, str | None]
    folded: _Segment
    newest: dict[int, str | None]
    newest_keys: _Segment

    def names(self) -> list[tuple[int, str]]:
        changed = {**self.folded_changes, **self.newest}
        kept = [(i, key) for i, key in self.base_names if i not in changed]
        return kept + [(i, key) for i, key in changed.items() if key is not None]

    def segments(self) -> list[tuple[_Segment, _Skipped]]:
        """Each segment to score, with the customers to skip in it (their key now is in a later one)."""
        later = tuple(changes for changes in (self.folded_changes, self.newest) if changes)
        return [
            (self.base, later),
            (self.folded, (self.newest,) if self.newest else ()),
            (self.newest_keys, ()),
        ]

    def changes_held(self) -> int:
        """About how many changes the index holds apart from its base (a customer may be in both parts)."""
        return len(self.folded_changes) + len(self.newest)

    def updated(self, changes: Sequence[_Change], keys: dict[int, str]) -> _NameIndex:
        """This index with ``changes`` (rows of the log, oldest first) applied, ``keys`` read with them."""
        changed = {change.customer_id: keys.get(change.customer_id) for change in changes}
        newest = {**self.newest, **changed}
        last = changes[-1]
        if len(newest) > _NEWEST_MAX:
            folded_changes = {**self.folded_changes, **newest}
            folded = _Segment.of(_present(folded_changes))
            return self._moved_to(last, folded_changes, folded, {}, _EMPTY)
        arrivals = sorted((i, key) for i, key in changed.items() if key is not None)
        appended = None
        if self.newest and len(arrivals) == len(changed) and arrivals[0][0] > max(self.newest):
            appended = self.newest_keys.with_arrivals(arrivals)
        newest_keys = appended or _Segment.of_few(_present(newest), self.newest_keys)
        return self._moved_to(last, self.folded_changes, self.folded, newest, newest_keys)

    def _moved_to(
        self,
        last: _Change,
        folded_changes: dict[int, str | None],
        folded: _Segment,
        newest: dict[int, str | None],
        newest_keys: _Segment,
    ) -> _NameIndex:
        """This index's base with these changes, labelled with ``last`` (not ``dataclasses.replace``,
        which looks the fields up each time: a fifth of an update's time)."""
        base_names, base = self.base_names, self.base
        return _NameIndex(
            last.stamp, last.version, base_names, base, folded_changes, folded, newest, newest_keys
        )


def _present(changed: dict[int, str | None]) -> list[tuple[int, str]]:
    """The changed customers that still exist, with their keys, ids ascending."""
    return sorted((i, key) for i, key in changed.items() if key is not None)


_indexes: dict[str, _NameIndex] = {}
_indexes_lock = threading.Lock()
# One build or update at a time per store: after a name change every searching thread finds the
# index stale, and at 1M customers a build each would multiply a two-second, several-hundred-MB job.
_build_locks: dict[str, threading.Lock] = {}
# Changes applied on top of a base before the whole index is read again: enough that a base lasts
# (arrivals, imports of a few thousand), few enough that scoring them all after each change stays
# cheap.
_RECENT_MIN = 1024
_RECENT_MAX = 8192
# Changes indexed apart before they join the folded segment: few enough that re-indexing them at each
# change is cheap, enough that the folded segment is seldom rebuilt.
_NEWEST_MAX = 64


def _names_stamp(session: Session) -> int | None:
    if session.autoflush:  # as the ORM's own query would: a name changed just before moves the stamp
        session.flush()
    stamp: int | None = session.connection().scalar(_STAMP)
    return stamp


def _name_index(session: Session, stamp: int | None, last: _LastChange | None = None) -> _NameIndex:
    """The index for ``stamp``, read from the store's ``customer_names_stamp`` (after a flush), with
    the change that set it if read too (``_LastChange``)."""
    bind_key = _bind_key(session)
    if (cached := _current(bind_key, stamp)) is not None:
        return cached
    with _indexes_lock:
        build_lock = _build_locks.setdefault(bind_key, threading.Lock())
    with build_lock:
        # Brought up to date by another thread while this one waited?
        if (cached := _current(bind_key, stamp)) is not None:
            return cached
        held = _indexes.get(bind_key)
        index = _brought_up_to_date(session, held, stamp, last) if held is not None else None
        index = index or _build(session)
        with _indexes_lock:
            _indexes[bind_key] = index
        return index


def _bind_key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def _current(bind_key: str, stamp: int | None) -> _NameIndex | None:
    cached = _indexes.get(bind_key)
    # No row (someone emptied the table): nothing tells whether names changed, so nothing is cached.
    if cached is not None and stamp is not None and cached.stamp == stamp:
        return cached
    return None


def _brought_up_to_date(
    session: Session, held: _NameIndex, stamp: int | None, last: _LastChange | None
) -> _NameIndex | None:
    """``held`` with the customers changed since it was made, or None when only a rebuild will do.

    When ``last``, the change that set ``stamp``, is the only one since ``held`` (it replaced
    ``held``'s stamp), it is applied as read with the stamp. Otherwise the log is read from the
    change ``held`` applied last: that row, with the same stamp, shows that the index followed the
    log as committed (a change read inside a transaction that then rolled back is gone, or its number
    was taken again with another stamp), and that nothing before was pruned. The stamp just read must
    be among the rows (a TRUNCATE moves it and writes no row). Keys are read with the log, in its
    snapshot (``_CHANGES_SINCE``); applying a change twice is harmless.
    """
    if held.version is None or stamp is None:
        return None
    if last is not None and last.previous_stamp == held.stamp and last.stamp == stamp:
        keys = {} if last.name_key is None else {last.customer_id: last.name_key}
        return held.updated([last], keys) if _room(held) > 0 else None
    room = _room(held)
    connection = session.connection()
    rows = connection.execute(_CHANGES_SINCE, {"version": held.version, "room": room + 1}).all()
    held_seen = bool(rows) and (rows[0].version, rows[0].stamp) == (held.version, held.stamp)
    if held_seen:
        if len(rows) > room:
            return None
        if any(row.stamp == stamp for row in rows):
            changes = rows[1:]
            keys = {row.customer_id: row.name_key for row in changes if row.name_key is not None}
            return held.updated(changes, keys)
    return held if _read_before(session, held, stamp, held_seen=held_seen) else None


def _room(held: _NameIndex) -> int:
    """How many more changes ``held`` may apply before the whole table is read again."""
    return min(max(_RECENT_MIN, len(held.base_names) // 50), _RECENT_MAX) - held.changes_held()


def _read_before(session: Session, held: _NameIndex, stamp: int, *, held_seen: bool) -> bool:
    """Whether ``stamp`` was read before another thread brought ``held`` past it, so ``held`` serves.

    That happens when the stamp is read in a snapshot taken earlier (a reading unit on SQLite begins
    one at its first read) or just before waiting for the build lock: the stamp is then that of a
    change shortly before the last one ``held`` applied, and that last change is committed (seen
    here, or else by a connection of its own, outside this snapshot: an index that applied a change
    later rolled back must not serve). Customers ``held`` lists that this snapshot cannot see yet are
    left out when read. Rebuilding from the older snapshot instead took seconds at 1M customers and
    stalled every search meanwhile. A stamp found in no row (a TRUNCATE) still rebuilds.
    """
    version = held.version
    if version is None:
        return False
    earlier = select(CustomerNameChange.version).where(
        CustomerNameChange.version < version,
        CustomerNameChange.version >= version - _RECENT_MAX,
        CustomerNameChange.stamp == stamp,
    )
    if session.connection().execute(earlier.limit(1)).first() is None:
        return False
    if held_seen:
        return True
    last = select(CustomerNameChange.version).where(
        CustomerNameChange.version == version, CustomerNameChange.stamp == held.stamp
    )
    # Not from the session's pool: this thread holds one of its connections and the build lock, and
    # every other search that found the index stale holds one while it waits for that lock.
    with read_aside(session.get_bind().engine) as fresh:
        return fresh.execute(last).first() is not None


def _build(session: Session) -> _NameIndex:
    # The last change of the log is read before the rows, so the index is at least as new as its
    # label: a change committed in between is applied again by the next update, never missed.
    # Core, not the ORM: half the time at 1M rows, and on SQLite a caller inside ``transaction`` holds
    # the write lock meanwhile. (Reading the stamp has already flushed the session.)
    connection = session.connection()
    newest = select(CustomerNameChange.version, CustomerNameChange.stamp).order_by(
        CustomerNameChange.version.desc()
    )
    last = connection.execute(newest.limit(1)).first()
    stamp = connection.scalar(_STAMP) if last is None else last.stamp
    rows = connection.execute(select(Customer.id, Customer.name_key).order_by(Customer.id)).all()
    names = [(customer_id, key) for customer_id, key in rows]
    return _NameIndex(
        stamp=stamp,
        version=None if last is None else last.version,
        base_names=names,
        base=_Segment.of(names),
        folded_changes={},
        folded=_EMPTY,
        newest={},
        newest_keys=_EMPTY,
    )


def indexed_names(session: Session) -> list[tuple[int, str]]:
    """Every customer id with its name key, from the cached index (for scanning free text)."""
    return _name_index(session, _names_stamp(session)).names()


# One query's scores in each segment scored, by the segment's id, with the segment (which keeps that
# id its own): kept through one search, so that when the index is brought up to date halfway, the
# segments it still shares with the one held (the base, mostly the folded one) are not scored again.
_Scored = dict[int, tuple[_Segment, np.ndarray, np.ndarray]]


def _name_scores(index: _NameIndex, key: str, limit: int, cutoff: float, done: _Scored) -> dict[int, float]:
    """The ``limit`` best customers by name score, ties in customer id order (as ``extract`` had it)."""
    scored = [
        (segment, skip, *_scored_once(segment, key, cutoff, done)) for segment, skip in index.segments()
    ]
    levels = np.unique(np.concatenate([scores for _segment, _skip, scores, _positions in scored]))[::-1]
    found: dict[int, float] = {}
    for level in levels.tolist():
        if len(found) >= limit:
            break
        # Customers changed since a segment was made are skipped there: their key now is in a later one.
        # Lazily: a common name holds thousands of customers and only the first few are taken, so
        # filtering whole lists cost every search after an arrival milliseconds at 1M customers.
        tied_lists = [
            _kept(segment.customers_of[p], skip)
            for segment, skip, scores, positions in scored
            for p in positions[scores == level].tolist()
        ]
        tied = islice(heapq.merge(*tied_lists), limit - len(found))  # each list ascends by id
        found.update((customer_id, float(level)) for customer_id in tied)
    return found


def _rescored(
    held: _NameIndex | None,
    index: _NameIndex,
    found: dict[int, float],
    key: str,
    limit: int,
    cutoff: float,
    done: _Scored,
) -> dict[int, float]:
    """``_name_scores`` for ``index``, which replaced ``held`` while ``found`` was scored with it.

    Usually a customer or two arrived, the query reaches none of them, and ``found`` stands: when
    ``index`` only added changes to ``held``'s newest segment (same base, same folded segment), its
    newest segment has no key the query reaches, and no changed customer is in ``found``. Customers
    changed are now skipped in the older segments, but none was taken there, and taking fewer
    untaken customers changes nothing. Merging every segment's scores again cost a search after an
    arrival as much as the merge of a quiet one, most for the queries that reach many names.
    """
    if held is not None and index.base is held.base and index.folded is held.folded:
        scores = _newest_scores(held.newest_keys, index.newest_keys, key, cutoff, done)
        changed = (i for i, now in index.newest.items() if held.newest.get(i, _GONE) != now)
        if not len(scores) and not any(i in found for i in changed):
            return found
    return _name_scores(index, key, limit, cutoff, done)


def _newest_scores(before: _Segment, after: _Segment, key: str, cutoff: float, done: _Scored) -> np.ndarray:
    """The scores reaching ``cutoff`` in ``after``, the newest segment of an index brought up to date
    from one whose newest segment was ``before``. When ``before`` had none and ``after`` holds its
    keys first, in the same order (as when customers arrive), only the keys after them are scored:
    the same key scores the same, and scoring the whole segment again was a search's second scoring
    of it after every arrival."""
    held_scores, _positions = _scored_once(before, key, cutoff, done)
    count = len(before.distinct_keys)
    if (
        len(held_scores)
        or not isinstance(after.pairs, FewKeys)
        or after.distinct_keys[:count] != before.distinct_keys
    ):
        return _scored_once(after, key, cutoff, done)[0]
    positions = after.pairs.candidates(key, count)
    return _scored_at(
        after, key, cutoff, np.arange(count, len(after.distinct_keys)) if positions is None else positions
    )[0]


def _scored_once(segment: _Segment, key: str, cutoff: float, done: _Scored) -> tuple[np.ndarray, np.ndarray]:
    if id(segment) not in done:
        done[id(segment)] = (segment, *_scored(segment, key, cutoff))
    _segment, scores, positions = done[id(segment)]
    return scores, positions


def _kept(customers: list[int], skipped: _Skipped) -> Iterable[int]:
    if not skipped:
        return customers
    if len(skipped) == 1:
        [skip] = skipped
        return (i for i in customers if i not in skip)
    return (i for i in customers if all(i not in skip for skip in skipped))


def _scored(segment: _Segment, key: str, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the keys of ``segment`` that reach ``cutoff``, and their positions."""
    if not segment.distinct_keys:
        return np.zeros(0, np.float64), np.zeros(0, np.int64)
    positions = segment.pairs.candidates(key)
    return _scored_at(
        segment, key, cutoff, np.arange(len(segment.distinct_keys)) if positions is None else positions
    )


def _scored_at(
    segment: _Segment, key: str, cutoff: float, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``_scored`` for the keys at ``positions`` (ascending) only."""
    if not len(positions):  # as in most segments of recent changes: none of the scorers' fixed costs
        return np.zeros(0, np.float64), positions
    keys = [segment.distinct_keys[p] for p in positions.tolist()]
    # float64 keeps the scores exactly as extract gave them, so thresholds decide as before.
    scores = process.cdist([key], keys, scorer=fuzz.WRatio, score_cutoff=cutoff, dtype=np.float64)[0]
    hits = np.flatnonzero(scores >= cutoff)
    scores[hits] = _without_chance_alignments(key, [keys[h] for h in hits.tolist()], scores[hits])
    np.minimum(scores, EXACT - 1, out=scores)
    scores[_same_names(key, keys, segment.pairs.lengths[positions])] = EXACT
    hits = np.flatnonzero(scores >= cutoff)
    return scores[hits], positions[hits]


def _same_names(key: str, keys: list[str], lengths: np.ndarray) -> list[int]:
    """Which of ``keys`` are ``key`` itself, or spaced differently between CJK characters (森 誠, 森誠)."""
    same_length = np.flatnonzero(lengths == len(key.replace(" ", "")))
    return [i for i in same_length.tolist() if same_name_key(keys[i], key)]


def _without_chance_alignments(key: str, others: list[str], scores: np.ndarray) -> np.ndarray:
    """WRatio's scores, less what a partial match found in the middle of a word.

    For strings of different lengths WRatio also scores the best window of the longer one: that finds
    "acme" in "acme trading" or "glob" in "globex", but also "ace" at the end of "whitespace", which
    rated Whitespace (77) above Acme (75) for "Acne". Such a match counts only when its window starts
    a word of the longer string, or one letter into it (the first letter missing or mistyped); CJK
    text, written without spaces, may start anywhere. Otherwise the pair keeps only what whole-string
    comparison gives. Scores only ever go down, so the prefilter still keeps every key that counts.
    """
    if not others:
        return scores
    lengths = np.fromiter(map(len, others), dtype=np.float64, count=len(others))
    length_ratio = np.maximum(lengths, len(key)) / np.maximum(np.minimum(lengths, len(key)), 1)
    scale = np.where(length_ratio <= _WRATIO_LONG_RATIO, _WRATIO_PARTIAL_SCALE, _WRATIO_LONG_SCALE)
    partial = process.cdist([key], others, scorer=fuzz.partial_ratio, dtype=np.float64)[0]
    from_partial = (length_ratio >= _WRATIO_PARTIAL_RATIO) & (np.abs(partial * scale - scores) < 1e-6)
    kept = scores.copy()
    for i in np.flatnonzero(from_partial).tolist():
        if not _window_starts_a_word(key, others[i]):
            whole = max(fuzz.ratio(key, others[i]), _WRATIO_TOKEN_SCALE * fuzz.token_ratio(key, others[i]))
            kept[i] = min(kept[i], whole)
    return kept


def _window_starts_a_word(key: str, other: str) -> bool:
    aligned = fuzz.partial_ratio_alignment(key, other)
    if aligned is None:  # only below a cutoff, and none is given
        return False
    longer, start = (other, aligned.dest_start) if len(key) <= len(other) else (key, aligned.src_start)
    before = longer[max(start - 2, 0) : start]
    return start <= 1 or " " in before or bool(_CJK_CHARACTER.match(longer[start - 1]))


_EMPTY = _Segment.of([])
_GONE = object()  # a customer's entry in no newest segment: unlike any key, None included
_CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
# What a ``CustomerView`` holds, in its fields' order, read as plain rows: a search by e-mail is on
# every ``/crm log``, and loading the customer as an ORM object cost more Python than the read.
# Tags and custom fields come as the JSON text stored, parsed only for the customers a search
# returns: it reads more rows than it shows (those weighed by their designators), and parsing every
# row's JSON (the driver's on PostgreSQL, SQLAlchemy's on SQLite) was a twentieth of a find's CPU.
_AS_TEXT = {"tags", "custom_fields"}
_VIEW_COLUMNS = [
    cast(column, Text).label(column.name) if column.name in _AS_TEXT else column
    for column in (_CUSTOMERS.c[view_field.name] for view_field in fields(CustomerView))
]
_VIEW_WIDTH = len(_VIEW_COLUMNS)
_BY_EXTERNAL_ID = _CUSTOMERS.c.external_id == bindparam("text")
# Built once per kind of contact: it or the external id (an indexed column each).
_BY_CONTACT: dict[str, Select[Any]] = {
    "email": select(*_VIEW_COLUMNS).where(or_(_BY_EXTERNAL_ID, _CUSTOMERS.c.email == bindparam("key"))),
    "phone": select(*_VIEW_COLUMNS).where(or_(_BY_EXTERNAL_ID, _CUSTOMERS.c.phone_key == bindparam("key"))),
}
_STAMP = select(CustomerNamesStamp.stamp)
_NAMES_STAMP: Table = CustomerNamesStamp.__table__  # type: ignore[assignment]
# A search by name (or external id) in one statement: the customers with that external id (``exact``
# true) and those the held name index scored best (``ids``), left-joined to one row that carries the
# names stamp row, so the stamp comes back even when nobody matches (a row of NULLs but the stamp's),
# with the change that set it (``_LastChange``).
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_BY_NAME: Select[Any] = select(
    *_VIEW_COLUMNS,
    _BY_EXTERNAL_ID.label("exact"),
    _NAMES_STAMP.c.stamp.label("names_stamp"),
    _NAMES_STAMP.c.previous_stamp,
    _NAMES_STAMP.c.last_version,
    _NAMES_STAMP.c.last_customer_id,
    _NAMES_STAMP.c.last_name_key,
).select_from(
    _ONE_ROW.outerjoin(_NAMES_STAMP, true()).outerjoin(
        _CUSTOMERS, or_(_BY_EXTERNAL_ID, _CUSTOMERS.c.id.in_(bindparam("ids", expanding=True)))
    )
)
_BY_IDS = select(*_VIEW_COLUMNS).where(_CUSTOMERS.c.id.in_(bindparam("ids", expanding=True)))
# The log from a version on, each change with its customer's key now (None: deleted), in one
# statement: one snapshot, so the keys are exactly those of the changes read, never older than the
# label the index takes from them; and one round trip for the search that follows an arrival.
_CHANGES_SINCE = (
    select(
        CustomerNameChange.version,
        CustomerNameChange.customer_id,
        CustomerNameChange.stamp,
        _CUSTOMERS.c.name_key,
    )
    .outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == CustomerNameChange.customer_id)
    .where(CustomerNameChange.version >= bindparam("version"))
    .order_by(CustomerNameChange.version)
    .limit(bindparam("room"))
)


def _view(row: Sequence[Any]) -> CustomerView:
    """``CustomerView.of`` for a row of ``_VIEW_COLUMNS`` (the first columns of a ``_BY_NAME`` row)."""
    view = row[:_VIEW_WIDTH]
    customer_id, external_id, name, email, phone, company, owner, stage, tags, custom, created = view
    plain = (tuple(_parsed(tags) or ()), dict(_parsed(custom) or {}))
    return CustomerView(customer_id, external_id, name, email, phone, company, owner, stage, *plain, created)


def _parsed(stored: str | None) -> Any:
    return None if stored is None else json.loads(stored)


def search_customers(
    session: Session, *, query: str, limit: int = 10, cutoff: float = CANDIDATE_SCORE
) -> list[Match]:
    """Customers matching ``query`` (name, e-mail, phone or external id), best first."""
    text = searchable(query)  # never stored, so what a store cannot take is dropped, not refused
    if not text:
        return []
    if session.autoflush:  # the ORM's queries flushed first: a customer added just before is found
        session.flush()
    connection = session.connection()
    contact = contact_query(text)
    tie_ranks: dict[int, int] = {}
    if contact is not None:
        rows: dict[int, Row[Any]] = {
            row.id: row
            for row in connection.execute(_BY_CONTACT[contact.kind], {"text": text, "key": contact.key})
        }
        found = {
            i: (EXACT, contact.kind if r.external_id != text else "external_id") for i, r in rows.items()
        }
    else:
        found, rows, tie_ranks = _by_name(session, connection, text, limit, cutoff)
    best = sorted(found.items(), key=lambda item: (-item[1][0], tie_ranks.get(item[0], 0), item[0]))[:limit]
    _read_rows(connection, [i for i, _ in best], rows)
    # A customer deleted since the index was read (merged, erased) is left out, not an error.
    return [Match(_view(rows[i]), score, on) for i, (score, on) in best if i in rows]


def _by_name(
    session: Session, connection: Connection, text: str, limit: int, cutoff: float
) -> tuple[dict[int, tuple[float, str]], dict[int, Row[Any]], dict[int, int]]:
    """The customers ``text`` names or is the external id of, with their scores, their rows read so
    far, and their ranks among ties (``_weigh_designators``).

    Optimistic, in one statement where a name index is held: the customers that index scores best
    are read with the exact match and the names stamp (``_BY_NAME``). Names seldom change between
    two searches, so the stamp read with them is nearly always the index's, and the rows read are
    those the search needs, in one round trip instead of two (the stamp, then the rows): on
    PostgreSQL each costs the client and the server CPU and a wait for the interpreter lock after it
    (docs/PERFORMANCE.md, issue 13 item 2). When the stamp has moved, the index is brought up to date
    for it and scores again; customers it adds are read by a second statement, as before, and so are
    all the rows when the index went past the stamp read (a change committed in between).
    """
    key = normalize_name(text)
    held = _indexes.get(_bind_key(session)) if key else None
    done: _Scored = {}
    scores = _name_scores(held, key, limit * 3, cutoff, done) if held is not None else {}
    # The rows a search needs: those sharing the query's key (weighed by their designators, which come
    # first, at the top score) and the best ``limit`` in all; with an exact match on the external
    # id, fewer of them are shown, never others.
    shown = max(limit, sum(score == EXACT for score in scores.values()))
    read = connection.execute(_BY_NAME, {"text": text, "ids": list(islice(scores, shown))}).all()
    rows: dict[int, Row[Any]] = {row.id: row for row in read if row.id is not None}
    found = {i: (EXACT, "external_id") for i, row in rows.items() if row.exact}
    if not key:
        return found, rows, {}
    stamp = read[0].names_stamp
    index = _name_index(session, stamp, _LastChange.of(read[0]))
    if index is not held:
        scores = _rescored(held, index, scores, key, limit * 3, cutoff, done)
        if index.stamp != stamp:
            # Brought past the stamp read with the rows (on PostgreSQL each statement reads its own
            # snapshot): names have changed since, so the rows shown and weighed are read again.
            rows = {}
    for customer_id, score in scores.items():
        if customer_id not in found:
            found[customer_id] = (score, "name")
    return found, rows, _weigh_designators(connection, text, found, rows)


def _weigh_designators(
    connection: Connection, text: str, found: dict[int, tuple[float, str]], rows: dict[int, Row[Any]]
) -> dict[int, int]:
    """Let legal designators decide between customers whose names are otherwise the query's.

    A query equal to a customer's whole name, designator included, means that customer: "Acme LLC"
    picks Acme LLC although "Acme Inc." and "Acme Co., Ltd." share its key, which drop just below
    exact (a bare "Acme" still matches them all, unless a customer is named just "Acme"). Without
    such a customer, those sharing a designator with the query come first among the exact matches
    (the returned ranks: 0 shares one, 1 not). Changes ``found`` in place. Rows are read only when
    several customers share the query's key, so an ordinary search reads nothing more; they are
    whole rows, added to ``rows``, because these customers are the ones a search then shows (a
    second read of them was a round trip more for every search of a common name).
    """
    same_key = [i for i, (score, on) in found.items() if on == "name" and score == EXACT]
    if len(same_key) < 2:
        return {}
    wanted = name_designators(text)
    _read_rows(connection, same_key, rows)
    held = {i: name_designators(rows[i].name) for i in same_key if i in rows}
    whole = {i for i in same_key if held.get(i) == wanted}
    if whole:
        found.update((i, (EXACT - 1, "name")) for i in same_key if i not in whole)
    return {i: 0 if designators & wanted else 1 for i, designators in held.items()} if wanted else {}


def _read_rows(connection: Connection, customer_ids: list[int], rows: dict[int, Row[Any]]) -> None:
    """Add to ``rows`` those of ``customer_ids`` not read yet, in one statement (none if all are)."""
    unread = [i for i in customer_ids if i not in rows]
    if unread:
        rows.update((row.id, row) for row in connection.execute(_BY_IDS, {"ids": unread}))


def find_customers(
    session: Session, *, actor: Actor, query: str, limit: int = 10, cutoff: float = CANDIDATE_SCORE
) -> list[Match]:
    """``search_customers`` for a person (a picker, ``crm-bot find``), if ``actor`` may find customers."""
    authorize(actor, Permission.FIND)
    return search_customers(session, query=query, limit=limit, cutoff=cutoff)


def resolve_customer(session: Session, *, actor: Actor, query: str) -> CustomerView:
    """The one customer ``query`` means, or an error that offers candidates or suggestions; refused
    unless ``actor`` may find customers."""
    authorize(actor, Permission.FIND)
    matches = search_customers(session, query=query, limit=10)
    exact = [m for m in matches if m.score == EXACT]
    if len(exact) == 1:
        return exact[0].customer
    if len(exact) > 1:
        raise _ambiguous(query, exact)
    if matches:
        best = matches[0]
        runner_up = matches[1].score if len(matches) > 1 else 0.0
        if best.score >= CLEAR_WINNER_SCORE and best.score - runner_up >= CLEAR_WINNER_GAP:
            return best.customer
        raise _ambiguous(query, matches)
    contact = contact_query(searchable(query))
    if contact is not None:
        what = "e-mail" if contact.kind == "email" else "phone number"
        raise NoMatch(
            f"No customer has the {what} {query.strip()!r}: add them as a new customer.",
            query=query.strip(),
            suggestions=(),
            contact=contact.kind,
        )
    suggestions = search_customers(session, query=query, limit=3, cutoff=SUGGESTION_SCORE)
    hint = f" Did you mean {', '.join(repr(m.customer.name) for m in suggestions)}?" if suggestions else ""
    raise NoMatch(
        f"No customer matches {query.strip()!r}.{hint}",
        query=query.strip(),
        suggestions=tuple(m.customer for m in suggestions),
    )


def _ambiguous(query: str, matches: list[Match]) -> Ambiguous:
    return Ambiguous(
        f"Several customers match {query.strip()!r}: pick one, or use the external id or e-mail.",
        tuple(m.customer for m in matches),
        query=query.strip(),
    )
