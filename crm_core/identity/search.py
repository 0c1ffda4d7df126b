"""Finding customers from what people type: exact contact details first, then forgiving names.

Fuzzy matching runs over every name key, so the keys are kept in a per-engine cache that is checked
against a cheap signature of the table (count, newest update, highest id) on every search: the cache
makes search fast, the signature keeps it correct when other replicas write.

Each distinct key is scored once (many customers share a name: 佐藤 健太, John Smith) and with
``process.cdist``, which releases the interpreter lock while it scores: ``process.extract`` held it
for the whole scan, so one search in a lazy listener stalled every other thread of the server,
including the acks Slack waits for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crm_core.customers.views import CustomerView
from crm_core.errors import Ambiguous, NoMatch
from crm_core.identity.normalize import looks_like_phone, normalize_email, normalize_name, phone_digits
from crm_core.models import Customer
from crm_core.text import searchable

EXACT = 100.0
CANDIDATE_SCORE = 72.0
SUGGESTION_SCORE = 55.0
CLEAR_WINNER_SCORE = 88.0
CLEAR_WINNER_GAP = 8.0


@dataclass(frozen=True)
class Match:
    customer: CustomerView
    score: float
    matched_on: str  # "email", "phone", "external_id" or "name"


@dataclass
class _NameIndex:
    """Name keys by customer id, and the same grouped by distinct key (customer ids ascending)."""

    signature: tuple[object, ...]
    ids: list[int]
    keys: list[str]
    distinct_keys: list[str] = field(init=False)
    customers_of: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        groups: dict[str, list[int]] = {}
        for customer_id, key in zip(self.ids, self.keys, strict=True):
            groups.setdefault(key, []).append(customer_id)
        self.distinct_keys = list(groups)
        self.customers_of = list(groups.values())


_indexes: dict[str, _NameIndex] = {}
_indexes_lock = threading.Lock()


def _name_index(session: Session) -> _NameIndex:
    # Three scalar subqueries, not one SELECT of three aggregates: SQLite answers a lone max() from an
    # index (or the rowid), but scans the whole table when it is combined with other aggregates.
    signature = tuple(
        session.execute(
            select(
                select(func.count()).select_from(Customer).scalar_subquery(),
                select(func.max(Customer.updated_at)).scalar_subquery(),
                select(func.max(Customer.id)).scalar_subquery(),
            )
        ).one()
    )
    bind_key = str(session.get_bind().engine.url)
    cached = _indexes.get(bind_key)
    if cached is not None and cached.signature == signature:
        return cached
    rows = session.execute(select(Customer.id, Customer.name_key).order_by(Customer.id)).all()
    index = _NameIndex(signature=signature, ids=[r[0] for r in rows], keys=[r[1] for r in rows])
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
    # float64 keeps the scores exactly as extract gave them, so thresholds decide as before.
    scores = process.cdist(
        [key], index.distinct_keys, scorer=fuzz.WRatio, score_cutoff=cutoff, dtype=np.float64
    )[0]
    hits = np.flatnonzero(scores >= cutoff)
    hits = hits[np.argsort(-scores[hits], kind="stable")]
    found: dict[int, float] = {}
    start = 0
    while start < len(hits) and len(found) < limit:
        level = scores[hits[start]]
        end = start + int(np.count_nonzero(scores[hits[start:]] == level))
        tied = sorted(_customers_with_keys(index, hits[start:end].tolist()))
        for customer_id, position in tied[: limit - len(found)]:
            exact = index.distinct_keys[position] == key
            found[customer_id] = EXACT if exact else min(float(level), EXACT - 1)
        start = end
    return found


def _customers_with_keys(index: _NameIndex, positions: list[int]) -> list[tuple[int, int]]:
    return [(customer_id, p) for p in positions for customer_id in index.customers_of[p]]


def search_customers(
    session: Session, *, query: str, limit: int = 10, cutoff: float = CANDIDATE_SCORE
) -> list[Match]:
    """Customers matching ``query`` (name, e-mail, phone or external id), best first."""
    text = searchable(query)  # never stored, so what a store cannot take is dropped, not refused
    if not text:
        return []
    found: dict[int, tuple[float, str]] = {}
    exact_conditions = [Customer.external_id == text]
    if "@" in text:
        exact_conditions.append(Customer.email == normalize_email(text))
    if looks_like_phone(text):
        exact_conditions.append(Customer.phone_key == phone_digits(text))
    for customer in session.scalars(select(Customer).where(or_(*exact_conditions))):
        on = "external_id" if customer.external_id == text else ("email" if "@" in text else "phone")
        found[customer.id] = (EXACT, on)
    key = normalize_name(text)
    if key:
        for customer_id, score in _name_scores(session, key, limit * 3, cutoff).items():
            if customer_id not in found:
                found[customer_id] = (score, "name")
    best = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([i for i, _ in best])))
    }
    return [Match(CustomerView.of(customers[i]), score, on) for i, (score, on) in best]


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
