"""Deterministic sample data: customers, two years of purchases, interactions and open follow-ups.

Purchases follow the story of the BG/NBD model (Fader, Hardie & Lee 2005) that the churn analytics
fit, so the demo's churn scores mean something: while a customer is alive they buy as a Poisson
process with their own rate λ ~ Gamma(r, α); after each purchase they drop out for good with their
own probability p ~ Beta(a, b). Everything is drawn vectorised from one seeded numpy generator, so
a million customers take seconds, and the same seed gives the same data for the same ``today``
(dates are relative to it; the function never reads the clock).

The frames have the import columns (times as ``datetime64``, amounts as integers), so they can be
written to CSV for benchmarks or imported directly.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.demo import vocabulary as words

HISTORY_DAYS = 730
MAX_CUSTOMERS = 10_000_000  # phone numbers are unique up to here (seven free digits)
SECONDS_PER_DAY = 86_400
_JAPANESE, _ENGLISH = 0, 1
# Multipliers coprime to 10: i -> (i * A + B) mod 10**k is a bijection, so phones never repeat.
_PHONE_MULTIPLIER_8, _PHONE_MULTIPLIER_7 = 54_435_761, 2_654_431


@dataclass(frozen=True)
class PurchaseModel:
    """BG/NBD parameters (rates per day) and how much people spend."""

    r: float = 0.9
    alpha: float = 35.0  # mean rate r/α: about one purchase every 39 days while alive
    a: float = 1.0
    b: float = 5.0  # mean dropout after a purchase: 1/6
    never_bought: float = 0.12  # leads and prospects
    typical_spend_yen: float = 12_000.0


@dataclass(frozen=True)
class DemoData:
    customers: pd.DataFrame
    purchases: pd.DataFrame
    interactions: pd.DataFrame
    follow_ups: pd.DataFrame


def generate_demo_data(
    *, customers: int = 300, seed: int = 1, today: dt.date, model: PurchaseModel | None = None
) -> DemoData:
    """Sample data for ``customers`` customers; the same arguments always give the same frames."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS}")
    rng = np.random.default_rng(seed)
    people = _customers(rng, customers, seed)
    start = np.datetime64(today - dt.timedelta(days=HISTORY_DAYS), "s")
    return DemoData(
        customers=people.frame,
        purchases=_purchases(rng, people, start, model or PurchaseModel(), seed),
        interactions=_interactions(rng, people, start),
        follow_ups=_follow_ups(rng, people, today),
    )


@dataclass(frozen=True)
class _People:
    """The customer frame plus per-customer arrays the other generators draw on."""

    frame: pd.DataFrame
    language: np.ndarray  # _JAPANESE or _ENGLISH
    external_id: np.ndarray
    owner: np.ndarray  # position in SALES_OWNERS


# Text is built as fixed-width numpy strings, whose operations run in C: a million customers' names,
# e-mails and phones take a second or two, where Python string objects would take a minute.


def _pick(rng: np.random.Generator, options: tuple[str, ...], size: int) -> np.ndarray:
    return np.array(options)[rng.integers(len(options), size=size)]


def _column(pairs: tuple[tuple[str, str], ...], position: int) -> np.ndarray:
    return np.array([pair[position] for pair in pairs])


def _join(*parts: np.ndarray | str) -> np.ndarray:
    return functools.reduce(np.char.add, parts)  # type: ignore[arg-type]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal text of non-negative integers below 10**width, computed digit by digit."""
    remaining = values.astype(np.uint64)
    places = []
    for _ in range(width):
        places.append(remaining % 10)
        remaining //= 10
    codes = (np.stack(places[::-1], axis=1) + ord("0")).astype(np.uint8)
    return codes.view(f"S{width}").ravel().astype(f"U{width}")


def _customers(rng: np.random.Generator, n: int, seed: int) -> _People:
    japanese = rng.random(n) < 0.65
    kind = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])  # a company, a person at a company, a private person
    family = rng.integers(len(words.JAPANESE_FAMILY_NAMES), size=n)
    given = rng.integers(len(words.JAPANESE_GIVEN_NAMES), size=n)
    first = rng.integers(len(words.ENGLISH_FIRST_NAMES), size=n)
    last = rng.integers(len(words.ENGLISH_LAST_NAMES), size=n)
    ja_company = rng.integers(len(words.JAPANESE_COMPANIES), size=n)
    en_company = rng.integers(len(words.ENGLISH_COMPANIES), size=n)
    designator = rng.integers(len(words.JAPANESE_DESIGNATORS), size=n)
    english_first, english_last = np.array(words.ENGLISH_FIRST_NAMES), np.array(words.ENGLISH_LAST_NAMES)

    person = np.where(
        japanese,
        _join(
            _column(words.JAPANESE_FAMILY_NAMES, 0)[family],
            " ",
            _column(words.JAPANESE_GIVEN_NAMES, 0)[given],
        ),
        _join(english_first[first], " ", english_last[last]),
    )
    company = np.where(
        japanese,
        _join(
            _column(words.JAPANESE_DESIGNATORS, 0)[designator],
            _column(words.JAPANESE_COMPANIES, 0)[ja_company],
            _column(words.JAPANESE_DESIGNATORS, 1)[designator],
        ),
        _join(
            _column(words.ENGLISH_COMPANIES, 0)[en_company], np.array(words.ENGLISH_DESIGNATORS)[designator]
        ),
    )
    mailbox = np.where(
        kind == 0,
        np.where(japanese, "info", "sales"),
        np.where(
            japanese,
            _join(
                _column(words.JAPANESE_GIVEN_NAMES, 1)[given],
                ".",
                _column(words.JAPANESE_FAMILY_NAMES, 1)[family],
            ),
            _join(np.char.lower(english_first)[first], ".", np.char.lower(english_last)[last]),
        ),
    )
    domain = np.where(
        kind == 2,
        _pick(rng, words.FREE_MAIL_DOMAINS, n),
        np.where(
            japanese,
            _join(_column(words.JAPANESE_COMPANIES, 1)[ja_company], ".co.jp"),
            _join(_column(words.ENGLISH_COMPANIES, 1)[en_company], ".com"),
        ),
    )
    owner = rng.integers(len(words.SALES_OWNERS), size=n)
    external_id = _join(f"C{seed}-", _digits(np.arange(1, n + 1), max(5, len(str(n)))))
    frame = pd.DataFrame(
        {
            "external_id": external_id,
            "name": np.where(kind == 0, company, person),
            "email": np.where(rng.random(n) < 0.9, _unique_emails(mailbox, domain), ""),
            "phone": np.where(rng.random(n) < 0.75, _phones(rng, japanese), ""),
            "company": np.where(kind == 1, company, ""),
            "owner": np.array(words.SALES_OWNERS)[owner],
            "tags": _tags(rng, n),
            "industry": np.where(
                japanese, _pick(rng, words.INDUSTRIES_JA, n), _pick(rng, words.INDUSTRIES_EN, n)
            ),
            "region": np.where(japanese, _pick(rng, words.REGIONS_JA, n), _pick(rng, words.REGIONS_EN, n)),
        }
    )
    language = np.where(japanese, _JAPANESE, _ENGLISH)
    return _People(frame=frame, language=language, external_id=external_id, owner=owner)


def _unique_emails(mailbox: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """An e-mail belongs to one customer, so a repeated address gets a number: taro.sato2@…"""
    occurrence = _occurrence(_join(mailbox, "@", domain))
    number = np.where(occurrence > 0, (occurrence + 1).astype(str), "")
    return _join(mailbox, number, "@", domain)


def _occurrence(values: np.ndarray) -> np.ndarray:
    """0 for the first time a value appears, 1 for the second, and so on."""
    _, group = np.unique(values, return_inverse=True)
    order = np.argsort(group, kind="stable")
    position = np.arange(len(values))
    starts_group = np.r_[True, group[order][1:] != group[order][:-1]]
    group_start = np.maximum.accumulate(np.where(starts_group, position, 0))
    occurrence = np.empty(len(values), dtype=np.int64)
    occurrence[order] = position - group_start
    return occurrence


def _phones(rng: np.random.Generator, japanese: np.ndarray) -> np.ndarray:
    """Distinct numbers: the subscriber part is a bijection of the customer's position."""
    index = np.arange(len(japanese), dtype=np.int64)
    eight = (index * _PHONE_MULTIPLIER_8 + int(rng.integers(10**8))) % 10**8
    seven = (index * _PHONE_MULTIPLIER_7 + int(rng.integers(10**7))) % 10**7
    japanese_phone = _join(
        _pick(rng, words.JAPANESE_PHONE_PREFIXES, len(index)),
        "-",
        _digits(eight // 10**4, 4),
        "-",
        _digits(eight % 10**4, 4),
    )
    us_phone = _join(
        "+1 ",
        _pick(rng, words.US_AREA_CODES, len(index)),
        "-",
        _digits(seven // 10**4, 3),
        "-",
        _digits(seven % 10**4, 4),
    )
    return np.where(japanese, japanese_phone, us_phone)


def _tags(rng: np.random.Generator, n: int) -> np.ndarray:
    """None, one or two distinct tags, in the sorted order the importer stores them."""
    count = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    tags = np.array(sorted(words.TAGS))
    first = rng.integers(len(tags), size=n)
    second = (first + 1 + rng.integers(len(tags) - 1, size=n)) % len(tags)
    pair = _join(tags[np.minimum(first, second)], ";", tags[np.maximum(first, second)])
    return np.where(count == 0, "", np.where(count == 1, tags[first], pair))


def _purchases(
    rng: np.random.Generator, people: _People, start: np.datetime64, model: PurchaseModel, seed: int
) -> pd.DataFrame:
    n = len(people.external_id)
    rate = rng.gamma(model.r, 1 / model.alpha, size=n)
    dropout = rng.beta(model.a, model.b, size=n)
    buyer = rng.random(n) >= model.never_bought
    first_day = rng.random(n) * HISTORY_DAYS
    remaining = HISTORY_DAYS - first_day
    # Repeat purchases made before dropping out (geometric in p, at least one): in BG/NBD a customer
    # can only drop out right after a repeat purchase, never after the first (that is MBG/NBD)...
    lifetime_repeats = rng.geometric(dropout)
    # ...of which the repeats are the first arrivals of the Poisson process in the remaining window:
    # given their number, arrival times are sorted uniforms, so draw all and keep the earliest.
    arrivals = rng.poisson(rate * remaining) * buyer
    owner = np.repeat(np.arange(n), arrivals)
    fraction = rng.random(len(owner))
    fraction = fraction[np.argsort(owner + fraction)]  # sorted within each customer (owner is grouped)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    kept = rank < lifetime_repeats[owner]
    repeat_owner = owner[kept]
    buyers = np.flatnonzero(buyer)
    customer = np.concatenate([buyers, repeat_owner])
    day = np.concatenate(
        [first_day[buyers], first_day[repeat_owner] + fraction[kept] * remaining[repeat_owner]]
    )

    spend = model.typical_spend_yen * rng.lognormal(0.0, 0.8, size=n)
    amount = np.maximum(np.round(spend[customer] * rng.lognormal(0.0, 0.35, size=len(customer)), -1), 100)
    occurred_at = start + (day * SECONDS_PER_DAY).astype("int64").astype("timedelta64[s]")
    order = np.argsort(occurred_at, kind="stable")
    return pd.DataFrame(
        {
            "customer": pd.Categorical.from_codes(customer[order], categories=pd.Index(people.external_id)),
            "occurred_at": occurred_at[order],
            "amount": amount[order].astype("int64"),
            "currency": "JPY",
            "external_id": _join(
                f"O{seed}-", _digits(np.arange(1, len(order) + 1), max(7, len(str(len(order)))))
            ),
        }
    )


def _interactions(rng: np.random.Generator, people: _People, start: np.datetime64) -> pd.DataFrame:
    """About 2.5 touch points per customer in office hours; repeated texts are categoricals (cheap)."""
    customer = np.repeat(np.arange(len(people.external_id)), rng.poisson(2.5, size=len(people.external_id)))
    total = len(customer)
    kinds = list(words.KIND_WEIGHTS)
    kind = rng.choice(len(kinds), size=total, p=list(words.KIND_WEIGHTS.values()))
    texts = [words.SUMMARIES[name][language] for name in kinds for language in (_JAPANESE, _ENGLISH)]
    per_kind_language = len(texts[0])
    variant = rng.integers(per_kind_language, size=total)
    summary = (kind * 2 + people.language[customer]) * per_kind_language + variant
    seconds = rng.integers(HISTORY_DAYS, size=total) * SECONDS_PER_DAY + rng.integers(
        9 * 3600, 18 * 3600, size=total
    )
    support_author = len(words.SALES_OWNERS) + rng.integers(len(words.SUPPORT_AUTHORS), size=total)
    frame = pd.DataFrame(
        {
            "customer": pd.Categorical.from_codes(customer, categories=pd.Index(people.external_id)),
            "occurred_at": start + seconds.astype("timedelta64[s]"),
            "kind": pd.Categorical.from_codes(kind, categories=pd.Index(kinds)),
            "summary": pd.Categorical.from_codes(
                summary, categories=pd.Index([t for group in texts for t in group])
            ),
            "author": pd.Categorical.from_codes(
                np.where(kind == kinds.index("support"), support_author, people.owner[customer]),
                categories=pd.Index([*words.SALES_OWNERS, *words.SUPPORT_AUTHORS]),
            ),
        }
    )
    return frame.drop_duplicates(["customer", "occurred_at", "kind", "summary"]).sort_values(
        "occurred_at", kind="stable", ignore_index=True
    )


def _follow_ups(rng: np.random.Generator, people: _People, today: dt.date) -> pd.DataFrame:
    """Open follow-ups for about one customer in five, due from ten days ago to three weeks ahead."""
    chosen = np.flatnonzero(rng.random(len(people.external_id)) < 0.2)
    notes = np.array(words.FOLLOW_UP_NOTES, dtype=object)
    due = np.datetime64(today, "D") + rng.integers(-10, 22, size=len(chosen)).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "customer": people.external_id[chosen],
            "due_on": due,
            "note": notes[people.language[chosen], rng.integers(notes.shape[1], size=len(chosen))],
            "owner": np.array(words.SALES_OWNERS)[people.owner[chosen]],
        }
    )
