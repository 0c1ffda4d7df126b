"""Putting sample data into the store through the same import pipeline that users' files go through.

So the demo exercises (and is checked by) the real validation, and loading it twice with the same
seed changes nothing: the demo's ids are fixed and every import is idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.demo.generator import DemoData
from crm_core.io.bulk import insert_new
from crm_core.io.importer import ImportReport, import_table
from crm_core.io.source import frame_table
from crm_core.models import Customer, FollowUp

FOLLOW_UP_ORIGIN = "demo"


@dataclass(frozen=True)
class DemoReport:
    imports: tuple[ImportReport, ...]
    follow_ups: int  # opened by this run


def customer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def write_demo_data(session: Session, *, data: DemoData, actor: Actor, now: dt.datetime) -> DemoReport:
    """Import the customers, purchases and interactions, then open the follow-ups; never commits.

    ``now`` is the moment the data was generated for (timezone-aware): the import refuses later rows."""
    imports = tuple(
        import_table(session, entity=entity, table=frame_table(f"demo {entity}", frame), actor=actor, now=now)
        for entity, frame in (
            ("customers", data.customers),
            ("purchases", data.purchases),
            ("interactions", data.interactions),
        )
    )
    return DemoReport(imports=imports, follow_ups=_open_follow_ups(session, data=data, actor=actor))


def _open_follow_ups(session: Session, *, data: DemoData, actor: Actor) -> int:
    """Open the sample follow-ups, for customers that made it into the store, in one bulk insert
    (thousands of them through the one-at-a-time service took half a minute); idempotent by key."""
    stored = session.execute(select(Customer.external_id, Customer.id))
    customer_ids = {external_id: customer_id for external_id, customer_id in stored}
    wanted = data.follow_ups[data.follow_ups["customer"].isin(list(customer_ids))]
    due_on = wanted["due_on"].dt.date.tolist()
    customers = wanted["customer"].tolist()
    added = insert_new(
        session.connection(),
        FollowUp,
        key="idempotency_key",
        columns={
            "customer_id": [customer_ids[customer] for customer in customers],
            "owner_id": wanted["owner"].tolist(),
            "due_on": due_on,
            "note": wanted["note"].tolist(),
            "status": ["open"] * len(wanted),
            "origin": [FOLLOW_UP_ORIGIN] * len(wanted),
            "idempotency_key": [
                f"demo:{customer}:{due.isoformat()}" for customer, due in zip(customers, due_on, strict=True)
            ],
        },
        progress=lambda _rows: None,
    )
    record(session, actor=actor, action="import", detail={"entity": "follow_ups", "new": added})
    return added
