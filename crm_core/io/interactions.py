"""Importing interactions (touch points), idempotent by a key derived from what happened.

The key hashes the customer's external id, the time, the kind and the summary, so re-importing a
file (or an export of this store) adds nothing, while two different notes at the same time both
count. Kinds and summaries go through the same validators as ``/crm log``.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.interactions.service import validate_kind, validate_summary
from crm_core.io.entity import Batch, EntityImport, WriteCounts
from crm_core.io.fields import checked, optional_column
from crm_core.io.timeline import Timeline
from crm_core.models import Interaction

IDEMPOTENCY_KEY_PREFIX = "import:"
SOURCE = "import"


def load_interactions(session: Session, batch: Batch) -> WriteCounts:
    rows, problems = batch.rows, batch.problems
    timeline = Timeline.parse(session, batch)
    kinds = checked(rows["kind"], validate_kind, problems)
    summaries = checked(rows["summary"], validate_summary, problems)
    authors = optional_column(rows, "author")
    valid = problems.valid()
    return timeline.write(
        session,
        Interaction,
        key="idempotency_key",
        keys=timeline.keys(IDEMPOTENCY_KEY_PREFIX, valid, kinds[valid].tolist(), summaries[valid].tolist()),
        values={
            "kind": kinds,
            "summary": summaries,
            "author": authors.mask(authors.eq(""), None),
            "source": pd.Series(SOURCE, index=rows.index, dtype=object),
        },
        repeated=lambda _key, line: f"the same interaction is already on line {line}",
        problems=problems,
        progress=batch.progress,
    )


INTERACTIONS = EntityImport(
    name="interactions",
    columns=("customer", "occurred_at", "kind", "summary", "author"),
    required=("customer", "occurred_at", "kind", "summary"),
    max_lengths={"author": 64},
    load=load_interactions,
)
