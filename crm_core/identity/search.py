"""Finding customers from what people type: contact details exactly, names forgivingly.

An e-mail address or a phone number matches exactly or not at all: an address nobody has is a
customer to create, not a reason to list names that look a bit like it (``contact_query``).

Fuzzy matching runs over the name keys of every customer, so the keys are kept in a per-engine
cache. Each search first reads the one-row ``customer_names_stamp``, which database triggers change
on every insert, delete and name-key update of ``customers`` (migration 0002), whoever makes it:
the cache makes search fast, the stamp keeps it correct when other replicas write. A stamp changed
inside the caller's own transaction is seen at once, and one rolled back is never seen again.

Only keys that share enough character pairs or a word with the query are scored (see
``prefilter``): WRatio over 100k distinct names takes about 190 ms. Each distinct key is scored once
(many customers share a name: 佐藤 健太, John Smith) and with ``process.cdist``, which releases the
interpreter lock while it scores: ``process.extract`` held it for the whole scan, so one search in a
lazy listener stalled every other thread of the server, including the acks Slack waits for.
"""

from __future__ import annotations

import heapq
import re
import threading
from dataclasses import dataclass, field
from itertools import islice, repeat

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

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
from crm_core.identity.prefilter import PairIndex
from crm_core.models import Customer, CustomerNamesStamp
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


@dataclass
class _NameIndex:
    """Name keys by customer id, and the same grouped by distinct key (customer ids ascending)."""

    stamp: int | None
    ids: list[int]
    keys: list[str]
    distinct_keys: list[str] = field(init=False)
    customers_of: list[list[int]] = field(init=False)
    pairs: PairIndex = field(init=False)

    def __post_init__(self) -> None:
        groups: dict[str, list[int]] = {}
        for customer_id, key in zip(self.ids, self.keys, strict=True):
            groups.setdefault(key, []).append(customer_id)
        self.distinct_keys = list(groups)
        self.customers_of = list(groups.values())
        self.pairs = PairIndex.of(self.distinct_keys)


_indexes: dict[str, _NameIndex] = {}
_indexes_lock = threading.Lock()
# One build at a time per store: after a name change every searching thread finds the index stale,
# and at 1M customers a build each would multiply a two-second, several-hundred-MB job.
_build_locks: dict[str, threading.Lock] = {}


def _name_index(session: Session) -> _NameIndex:
    stamp = session.scalar(select(CustomerNamesStamp.stamp))
    bind_key = str(session.get_bind().engine.url)
    if (cached := _current(bind_key, stamp)) is not None:
        return cached
    with _indexes_lock:
        build_lock = _build_locks.setdefault(bind_key, threading.Lock())
    with build_lock:
        # Built by another thread while this one waited?
        if (cached := _current(bind_key, stamp)) is not None:
            return cached
        return _build(session, bind_key, stamp)


def _current(bind_key: str, stamp: int | None) -> _NameIndex | None:
    cached = _indexes.get(bind_key)
    # No row (someone emptied the table): nothing tells whether names changed, so nothing is cached.
    if cached is not None and stamp is not None and cached.stamp == stamp:
        return cached
    return None


def _build(session: Session, bind_key: str, stamp: int | None) -> _NameIndex:
    # The rows are read after the stamp: a change committed in between (PostgreSQL's read committed)
    # makes the index newer than its stamp, which costs one more rebuild, never a stale answer.
    # Core, not the ORM: half the time at 1M rows, and on SQLite a caller inside ``transaction`` holds
    # the write lock meanwhile. (Reading the stamp has already flushed the session.)
    rows = session.connection().execute(select(Customer.id, Customer.name_key).order_by(Customer.id)).all()
    index = _NameIndex(stamp=stamp, ids=[r[0] for r in rows], keys=[r[1] for r in rows])
    with _indexes_lock:
        _indexes[bind_key] = index
    return index


def indexed_names(session: Session) -> list[tuple[int, str]]:
    """Every customer id with its name key, from the cached index (for scanning free text)."""
    index = _name_index(session)
    return list(zip(index.ids, index.keys, strict=True))


def _name_scores(session: Session, key: str, limit: int, cutoff: float) -> dict[int, float]:
    """The ``limit`` best customers by name score, ties in customer id order (as ``extract`` had it)."""
    index = _name_index(session)
    positions = index.pairs.candidates(key)
    if positions is None:
        positions = np.arange(len(index.distinct_keys))
    keys = [index.distinct_keys[p] for p in positions.tolist()]
    # float64 keeps the scores exactly as extract gave them, so thresholds decide as before.
    scores = process.cdist([key], keys, scorer=fuzz.WRatio, score_cutoff=cutoff, dtype=np.float64)[0]
    hits = np.flatnonzero(scores >= cutoff)
    scores[hits] = _without_chance_alignments(key, [keys[h] for h in hits.tolist()], scores[hits])
    np.minimum(scores, EXACT - 1, out=scores)
    scores[_same_names(key, keys, index.pairs.lengths[positions])] = EXACT
    hits = np.flatnonzero(scores >= cutoff)
    hits = hits[np.argsort(-scores[hits], kind="stable")]  # positions ascend, so ties stay in key order
    found: dict[int, float] = {}
    start = 0
    while start < len(hits) and len(found) < limit:
        level = scores[hits[start]]
        end = start + int(np.count_nonzero(scores[hits[start:]] == level))
        tied = _first_customers(index, positions[hits[start:end]].tolist(), limit - len(found))
        found.update((customer_id, float(level)) for customer_id, _position in tied)
        start = end
    return found


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


def _first_customers(index: _NameIndex, positions: list[int], count: int) -> list[tuple[int, int]]:
    """The ``count`` lowest customer ids among those holding the keys at ``positions``, with their key.

    Merged, not sorted: at 1M customers a common given name ties thousands of customers at one score
    (WRatio gives every "… 太郎" 85.5 for "存在しない 太郎"), and sorting them all took 40 ms.
    """
    holders = (zip(index.customers_of[p], repeat(p)) for p in positions)  # each ascending by id
    return list(islice(heapq.merge(*holders), count))


def search_customers(
    session: Session, *, query: str, limit: int = 10, cutoff: float = CANDIDATE_SCORE
) -> list[Match]:
    """Customers matching ``query`` (name, e-mail, phone or external id), best first."""
    text = searchable(query)  # never stored, so what a store cannot take is dropped, not refused
    if not text:
        return []
    found: dict[int, tuple[float, str]] = {}
    exact_conditions = [Customer.external_id == text]
    contact = contact_query(text)
    if contact is not None:
        column = Customer.email if contact.kind == "email" else Customer.phone_key
        exact_conditions.append(column == contact.key)
    for customer in session.scalars(select(Customer).where(or_(*exact_conditions))):
        on = contact.kind if contact is not None and customer.external_id != text else "external_id"
        found[customer.id] = (EXACT, on)
    key = normalize_name(text) if contact is None else ""
    tie_ranks: dict[int, int] = {}
    if key:
        for customer_id, score in _name_scores(session, key, limit * 3, cutoff).items():
            if customer_id not in found:
                found[customer_id] = (score, "name")
        tie_ranks = _weigh_designators(session, text, found)
    best = sorted(found.items(), key=lambda item: (-item[1][0], tie_ranks.get(item[0], 0), item[0]))[:limit]
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([i for i, _ in best])))
    }
    # A customer deleted since the index was read (merged, erased) is left out, not an error.
    return [Match(CustomerView.of(customers[i]), score, on) for i, (score, on) in best if i in customers]


def _weigh_designators(session: Session, text: str, found: dict[int, tuple[float, str]]) -> dict[int, int]:
    """Let legal designators decide between customers whose names are otherwise the query's.

    A query equal to a customer's whole name, designator included, means that customer: "Acme LLC"
    picks Acme LLC although "Acme Inc." and "Acme Co., Ltd." share its key, which drop just below
    exact (a bare "Acme" still matches them all, unless a customer is named just "Acme"). Without
    such a customer, those sharing a designator with the query come first among the exact matches
    (the returned ranks: 0 shares one, 1 not). Changes ``found`` in place. Names are read only when
    several customers share the query's key, so an ordinary search reads nothing more.
    """
    same_key = [i for i, (score, on) in found.items() if on == "name" and score == EXACT]
    if len(same_key) < 2:
        return {}
    wanted = name_designators(text)
    read = select(Customer.id, Customer.name).where(Customer.id.in_(same_key))
    held = {customer_id: name_designators(name) for customer_id, name in session.connection().execute(read)}
    whole = {i for i in same_key if held.get(i) == wanted}
    if whole:
        found.update((i, (EXACT - 1, "name")) for i in same_key if i not in whole)
    return {i: 0 if designators & wanted else 1 for i, designators in held.items()} if wanted else {}


def resolve_customer(session: Session, *, query: str) -> CustomerView:
    """The one customer ``query`` means, or an error that offers candidates or suggestions."""
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
