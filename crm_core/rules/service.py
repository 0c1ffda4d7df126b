"""Managing follow-up rules and applying them to new purchases and interactions.

Applying is idempotent: each follow-up a rule creates carries the key ``rule:<rule>:<table>:<row>``,
so running the rules again (after every import, on every scheduler tick, in several replicas) never
creates a second one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, String, and_, cast, literal, or_, select
from sqlalchemy.orm import Session, aliased

from crm_core.actor import Actor
from crm_core.audit.service import record
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import INTERACTION_KINDS, Customer, FollowUp, FollowUpRule, Interaction, Purchase

_TRIGGER = re.compile(r"^(first_purchase|purchase|interaction:(\w+))$")
MAX_DELAY_DAYS = 366


@dataclass(frozen=True)
class RuleView:
    id: int
    trigger: str
    delay_days: int
    note: str
    active: bool

    @classmethod
    def of(cls, row: FollowUpRule) -> RuleView:
        return cls(row.id, row.trigger, row.delay_days, row.note, row.active)

    def describe(self) -> str:
        return f"{self.delay_days} days after each {self.trigger.replace('_', ' ').replace(':', ' ')}"


def validate_trigger(trigger: str) -> str:
    match = _TRIGGER.match(trigger.strip())
    if not match or (match.group(2) and match.group(2) not in INTERACTION_KINDS):
        kinds = "|".join(k for k in INTERACTION_KINDS if k != "purchase")
        raise InvalidInput(f"trigger {trigger!r} must be first_purchase, purchase or interaction:<{kinds}>")
    return match.group(0)


def add_rule(session: Session, *, actor: Actor, trigger: str, delay_days: int, note: str) -> RuleView:
    if not 0 <= delay_days <= MAX_DELAY_DAYS:
        raise InvalidInput(f"the delay must be between 0 and {MAX_DELAY_DAYS} days")
    row = FollowUpRule(
        trigger=validate_trigger(trigger), delay_days=delay_days, note=note.strip(), active=True
    )
    session.add(row)
    session.flush()
    record(session, actor=actor, action="rule.add", detail={"rule_id": row.id})
    return RuleView.of(row)


def list_rules(session: Session) -> list[RuleView]:
    return [RuleView.of(r) for r in session.scalars(select(FollowUpRule).order_by(FollowUpRule.id))]


def remove_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Remove a rule; follow-ups it already created stay, since someone may be acting on them."""
    row = session.get(FollowUpRule, rule_id)
    if row is None:
        raise NotFound(f"there is no rule {rule_id}: `crm-bot rules list` shows them")
    session.delete(row)
    record(session, actor=actor, action="rule.remove", detail={"rule_id": rule_id})


class _Rule(NamedTuple):
    """An active rule as applying it reads it."""

    id: int
    trigger: str
    delay_days: int
    note: str
    created_at: dt.datetime


# Read on every log and every purchase import, so built once and read as plain rows on the session's
# connection: the ORM's query of the (usually empty) table cost more Python than the read itself.
_ACTIVE_RULES = (
    select(
        FollowUpRule.id,
        FollowUpRule.trigger,
        FollowUpRule.delay_days,
        FollowUpRule.note,
        FollowUpRule.created_at,
    )
    .where(FollowUpRule.active.is_(True))
    .order_by(FollowUpRule.id)
)


def _events(rule: _Rule, customer_ids: list[int] | None) -> tuple[str, Select[int, int, dt.datetime, Any]]:
    """The table a rule watches and a select of (event id, customer id, occurred_at, author)."""
    if rule.trigger.startswith("interaction:"):
        table, event, customer_column = "interactions", Interaction.id, Interaction.customer_id
        query = select(
            Interaction.id, Interaction.customer_id, Interaction.occurred_at, Interaction.author
        ).where(Interaction.kind == rule.trigger.split(":", 1)[1], Interaction.occurred_at >= rule.created_at)
    else:
        table, event, customer_column = "purchases", Purchase.id, Purchase.customer_id
        query = select(
            Purchase.id, Purchase.customer_id, Purchase.occurred_at, literal(None).label("author")
        ).where(Purchase.occurred_at >= rule.created_at)
        if rule.trigger == "first_purchase":
            earlier = aliased(Purchase)
            query = query.where(
                ~select(earlier.id)
                .where(
                    earlier.customer_id == Purchase.customer_id,
                    or_(
                        earlier.occurred_at < Purchase.occurred_at,
                        and_(earlier.occurred_at == Purchase.occurred_at, earlier.id < Purchase.id),
                    ),
                )
                .exists()
            )
    key = literal(f"rule:{rule.id}:{table}:") + cast(event, String)
    query = query.where(~select(FollowUp.id).where(FollowUp.idempotency_key == key).exists())
    if customer_ids is not None:
        query = query.where(customer_column.in_(customer_ids))
    return table, query


def apply_follow_up_rules(
    session: Session, *, actor: Actor, customer_ids: Iterable[int] | None = None
) -> int:
    """Create the follow-ups active rules call for and that do not exist yet; returns how many."""
    created = 0
    ids = list(customer_ids) if customer_ids is not None else None
    # Read from the store on every call, never cached: a rule added or removed by another replica
    # applies to the next event. Flushed first, as the ORM's query did: a rule removed earlier in this
    # transaction must not apply (a flush with nothing pending returns at once).
    session.flush()
    rules = [_Rule(*row) for row in session.connection().execute(_ACTIVE_RULES)]
    for rule in rules:
        table, query = _events(rule, ids)
        for event_id, customer_id, occurred_at, author in session.execute(query):
            customer = session.get_one(Customer, customer_id)
            session.add(
                FollowUp(
                    customer_id=customer_id,
                    owner_id=author if author and not author.startswith("cli:") else customer.owner_id,
                    due_on=occurred_at.date() + dt.timedelta(days=rule.delay_days),
                    note=rule.note,
                    status="open",
                    origin=f"rule:{rule.id}",
                    idempotency_key=f"rule:{rule.id}:{table}:{event_id}",
                )
            )
            created += 1
    if created:
        session.flush()
        record(session, actor=actor, action="rule.apply", detail={"follow_ups_created": created})
    return created
