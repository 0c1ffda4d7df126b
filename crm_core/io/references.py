"""Which stored customer each row of a purchases or interactions file means.

A row names its customer by external id, e-mail or exact name, tried in that order. Names are only
trusted when exactly one customer has that name; otherwise the row is rejected as ambiguous rather
than credited to a guess. Lookups are dictionaries built from one query, so a million rows cost a
few hash probes each, not a query each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.identity.normalize import normalize_email
from crm_core.io.problems import RowProblems
from crm_core.models import Customer

_AMBIGUOUS = -1


@dataclass(frozen=True)
class CustomerRefs:
    """Per line: the customer's id (NaN where unresolved) and external id ('' where unresolved)."""

    ids: pd.Series
    external_ids: pd.Series


def resolve_customers(session: Session, references: pd.Series, problems: RowProblems) -> CustomerRefs:
    query = select(Customer.id, Customer.external_id, Customer.email, Customer.name)
    ids_, external_ids_, emails_, names_ = list(zip(*session.execute(query).all(), strict=True)) or [()] * 4
    ids = references.map(dict(zip(external_ids_, ids_, strict=True)))
    external_ids = references.where(ids.notna(), "")
    unresolved = ids.isna() & references.ne("")
    if unresolved.any():
        # Most files name customers by external id; the other lookups are built only when needed.
        by_email = _unique_keys(zip(emails_, ids_, strict=True))
        by_name = _unique_keys(zip((" ".join(name.split()) for name in names_), ids_, strict=True))
        others = references[unresolved]
        by_contact = others[others.str.contains("@", regex=False)].map(normalize_email).map(by_email)
        found = by_contact.reindex(others.index).fillna(
            others.map(lambda text: " ".join(text.split())).map(by_name)
        )
        ids = ids.fillna(found)
        external_ids = external_ids.mask(
            unresolved, found.map(dict(zip(ids_, external_ids_, strict=True))).astype(object).fillna("")
        )

    problems.add_where(
        ids.eq(_AMBIGUOUS),
        lambda reference: (
            f"customer {reference!r} matches several customers by name: use their external_id or e-mail"
        ),
        references,
    )
    problems.add_where(
        ids.isna() & references.ne(""),
        lambda reference: (
            f"customer {reference!r} is not known (looked up by external_id, e-mail and "
            "exact name): import the customers first"
        ),
        references,
    )
    return CustomerRefs(ids=ids.where(ids.ne(_AMBIGUOUS)), external_ids=external_ids)


def _unique_keys(pairs: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """key -> customer id, or _AMBIGUOUS where several customers share the key."""
    found: dict[str, int] = {}
    for key, customer_id in pairs:
        if key:
            found[key] = _AMBIGUOUS if key in found and found[key] != customer_id else customer_id
    return found
