"""Which customer a piece of free text (a Slack thread) is about, when it clearly names one.

Used to preselect the customer when a thread is logged, so it only answers on a clear winner: a
wrong preselection gets saved by a busy person, an empty picker does not. The text names a customer
when it contains their e-mail address, their phone number, or their whole name. Names are compared
after the same normalisation as search (case, width, kana, company designators such as "Inc." or
株式会社, an English possessive "'s"), but with no typo tolerance. Latin names must match whole
words and have at least three letters; Japanese names match anywhere (Japanese is written without
spaces). A name found only inside a longer name that is also a customer's ("Acme" in "Acme
Holdings") does not count. Exactly one customer named: that one; none or several: nobody.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_core.access.policy import Permission, authorize
from crm_core.actor import Actor
from crm_core.customer_view import CustomerView
from crm_core.identity.normalize import normalize_email, normalize_name, phone_digits
from crm_core.identity.phones import phone_key
from crm_core.identity.search import indexed_names
from crm_core.models import Customer

MAX_SCANNED_CHARS = 20_000
MIN_LATIN_NAME = 3  # shorter keys ("ai", "go") are ordinary words far more often than customers
MIN_JAPANESE_NAME = 2
MAX_NAME_WORDS = 6

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s\-‐−().]{4,}\d")
_POSSESSIVE = re.compile(r"['’]s\b")  # "Acme's order" names Acme
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")

Span = tuple[int, int, int]  # start, end (in the normalised text), customer id


def customer_named_in(session: Session, *, actor: Actor, text: str) -> CustomerView | None:
    """The one customer ``text`` names, or None when it names nobody or several (see module doc)."""
    named = customers_named_in(session, actor=actor, text=text, limit=2)
    return named[0] if len(named) == 1 else None


def customers_named_in(session: Session, *, actor: Actor, text: str, limit: int = 10) -> list[CustomerView]:
    """Every customer ``text`` names (at most ``limit``, by name), for ``actor`` to pick one from;
    refused unless they may find customers."""
    authorize(actor, Permission.FIND)
    scanned = unicodedata.normalize("NFKC", text[:MAX_SCANNED_CHARS])
    names = normalize_name(_POSSESSIVE.sub("", scanned))
    named = _named_by_contact(session, scanned) | _named_by_name(session, names)
    if not named:
        return []
    chosen = select(Customer).where(Customer.id.in_(named)).order_by(Customer.name).limit(limit)
    rows = session.scalars(chosen)
    return [CustomerView.of(row) for row in rows]


def _named_by_contact(session: Session, text: str) -> set[int]:
    emails = {normalize_email(found) for found in _EMAIL.findall(text)}
    phones = {phone_key(found) for found in _PHONE.findall(text) if len(phone_digits(found)) >= 6}
    conditions = [Customer.email.in_(emails)] if emails else []
    conditions += [Customer.phone_key.in_(phones)] if phones else []
    if not conditions:
        return set()
    return set(session.scalars(select(Customer.id).where(or_(*conditions))))


def _named_by_name(session: Session, text: str) -> set[int]:
    latin: dict[str, list[int]] = defaultdict(list)
    japanese: dict[str, list[int]] = defaultdict(list)
    for customer_id, key in indexed_names(session):
        if _JAPANESE.search(key):
            if len(key) >= MIN_JAPANESE_NAME:
                japanese[key].append(customer_id)
        elif len(key) >= MIN_LATIN_NAME:
            latin[key].append(customer_id)
    spans = [*_whole_words(text, latin), *_anywhere(text, japanese)]
    return {span[2] for span in spans if not any(_inside(span, other) for other in spans)}


def _whole_words(text: str, keys: dict[str, list[int]]) -> Iterator[Span]:
    """Runs of one to ``MAX_NAME_WORDS`` words of ``text`` that are a name key."""
    words = text.split(" ")
    starts = [0]
    for word in words[:-1]:
        starts.append(starts[-1] + len(word) + 1)
    for first in range(len(words)):
        for last in range(first, min(first + MAX_NAME_WORDS, len(words))):
            phrase = " ".join(words[first : last + 1])
            for customer_id in keys.get(phrase, ()):
                yield starts[first], starts[first] + len(phrase), customer_id


def _anywhere(text: str, keys: dict[str, list[int]]) -> Iterator[Span]:
    for key, customer_ids in keys.items():
        start = text.find(key)
        while start >= 0:
            yield from ((start, start + len(key), customer_id) for customer_id in customer_ids)
            start = text.find(key, start + 1)


def _inside(span: Span, other: Span) -> bool:
    """``span`` lies within the longer ``other``: the shorter name is part of the longer one."""
    return other[0] <= span[0] and span[1] <= other[1] and other[1] - other[0] > span[1] - span[0]
