"""What purchases and interactions share: whose each row is, when it happened, and how it is written.

Both are timeline rows of a customer, kept idempotent by a unique key (the order id, the interaction's
idempotency key); the entity modules add their own columns and how their key is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from crm_core.customers.locks import hold_for_adding
from crm_core.io.bulk import Progress, insert_new
from crm_core.io.entity import Batch, WriteCounts
from crm_core.io.fields import content_keys, iso_texts, parse_times
from crm_core.io.problems import RowProblems
from crm_core.io.references import CustomerRefs, resolve_customers
from crm_core.models import Interaction, Purchase


@dataclass(frozen=True)
class Timeline:
    customers: CustomerRefs
    occurred_at: pd.Series

    @classmethod
    def parse(cls, session: Session, batch: Batch) -> Timeline:
        """Whose and when each row is; a row dated after today is refused, since what the file
        records (an order, a call) has already happened."""
        rows, problems = batch.rows, batch.problems
        occurred_at = parse_times(rows["occurred_at"], problems, column="occurred_at")
        problems.add_where(
            occurred_at.ge(batch.end_of_today),
            lambda value: f"occurred_at {value!r} is after today ({batch.today.isoformat()})",
            rows["occurred_at"],
        )
        return cls(customers=resolve_customers(session, rows["customer"], problems), occurred_at=occurred_at)

    def keys(self, prefix: str, lines: pd.Series, *parts: Sequence[str]) -> pd.Series:
        """Content keys for the ``lines`` mask ('' elsewhere): the customer's external id, the time,
        then ``parts`` (values of those lines)."""
        customers, times = self.customers.external_ids[lines].tolist(), iso_texts(self.occurred_at[lines])
        keys = content_keys(prefix, [customers, times, *parts])
        return pd.Series(keys, index=lines.index[lines], dtype=object).reindex(lines.index, fill_value="")

    def write(
        self,
        session: Session,
        model: type[Purchase | Interaction],
        *,
        key: str,
        keys: pd.Series,
        values: Mapping[str, pd.Series],
        repeated: Callable[[str, int], str],
        problems: RowProblems,
        progress: Progress,
    ) -> WriteCounts:
        """Reject lines repeating an earlier line's key, then insert the valid rows whose key is new."""
        problems.add_repeats(keys, repeated)
        customer_ids = self._held_customer_ids(session, problems)
        valid = problems.valid()
        columns = {
            "customer_id": customer_ids.reindex(valid.index)[valid].astype("int64").tolist(),
            "occurred_at": self.occurred_at[valid].dt.to_pydatetime().tolist(),
            key: keys[valid].tolist(),
            **{name: column[valid].tolist() for name, column in values.items()},
        }
        new = insert_new(session.connection(), model, key=key, columns=columns, progress=progress)
        return WriteCounts(new=new, unchanged=int(valid.sum()) - new)

    def _held_customer_ids(self, session: Session, problems: RowProblems) -> pd.Series:
        """The valid lines' customers, held against merges and erasures until commit
        (``crm_core.customers.locks``); a line whose customer was merged meanwhile goes to the kept one."""
        valid = problems.valid()
        ids = self.customers.ids[valid].astype("int64")
        held = ids.map(hold_for_adding(session, ids.tolist()))
        problems.add_where(
            held.isna(),
            lambda reference: f"customer {reference!r} was removed while importing: import the file again",
            self.customers.external_ids[valid],
        )
        return held
