"""The store's tables as typed SQLAlchemy 2 models.

The schema itself is made only by Alembic migrations (``crm_core/migrations``); a test checks that these
models and the migrations agree. Uniqueness that protects against Slack retries and concurrent
replicas (interaction idempotency keys, digest claim keys, order ids) lives here, in the database,
never in process memory.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INTERACTION_KINDS = ("call", "meeting", "email", "chat", "note", "support", "purchase")
FOLLOW_UP_STATUSES = ("open", "done", "snoozed", "cancelled")
LIFECYCLE_STAGES = ("lead", "prospect", "customer", "lapsed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def stored_now() -> dt.datetime:
    """Now as every timestamp column keeps it: naive UTC (SQLite has no time zones)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Customer(Base):
    """One real customer. ``name_key`` is the forgiving form of the name used for matching."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    # One customer per e-mail and per phone key, whoever writes (migration 0003); NULL when unknown
    # or erased, and NULLs never collide.
    email: Mapped[str | None] = mapped_column(String(254), index=True, unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_key: Mapped[str | None] = mapped_column(String(20), index=True, unique=True)
    company: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(32), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="customer")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now, onupdate=stored_now)
    # Set when the customer's personal data was erased on request; the row keeps anonymous aggregates.
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CustomerNamesStamp(Base):
    """One row whose ``stamp`` changes whenever a customer's name key may have: the name search cache.

    Database triggers (migrations 0002, 0008) set it to a fresh random number on every insert, delete or
    name-key update of ``customers``, whoever writes (another replica, a script, a merge or an
    erasure), so a replica can check its cached name index by reading one row. Random rather than a
    counter: a counter bumped by a transaction that rolls back would hand the same number to the next
    writer, and an index cached inside the rolled-back transaction would then look current.

    The same triggers write which change set the stamp (migration 0010): the stamp it replaced, its
    number in ``customer_name_changes``, and the one customer it touched with that customer's key
    after it (NULL: deleted; the customer is NULL when one statement changed several). A process whose
    index is current for ``previous_stamp`` applies that change from this row, read with the search,
    instead of reading the log.
    """

    __tablename__ = "customer_names_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger)
    previous_stamp: Mapped[int | None] = mapped_column(BigInteger)
    last_version: Mapped[int | None] = mapped_column(BigInteger)
    last_customer_id: Mapped[int | None] = mapped_column(Integer)
    last_name_key: Mapped[str | None] = mapped_column(Text)


class CustomerNameChange(Base):
    """A customer whose name key changed (added, renamed, deleted), numbered in commit order.

    Written by the triggers that move the stamp (migration 0008), so that a process holding the name
    index applies the customers changed since, rather than rebuilding it: ``stamp`` is the stamp this
    change set, which tells a number reused after a rollback from the one the index has applied.
    """

    __tablename__ = "customer_name_changes"

    version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    stamp: Mapped[int] = mapped_column(BigInteger)


class Interaction(Base):
    """A touch point on a customer's timeline, wherever it was logged."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_occurred", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16), default="cli")
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_thread_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)


class Purchase(Base):
    """An order. ``external_id`` (the order number) makes re-imports idempotent."""

    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_customer_occurred", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="JPY")


class FollowUp(Base):
    """A promise to get back to a customer; overdue ones stay open until someone acts."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_owner_status_due", "owner_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(32))
    due_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    origin: Mapped[str] = mapped_column(String(32), default="manual")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FollowUpRule(Base):
    """Creates follow-ups automatically, e.g. three days after a first purchase ("did you like it?").

    ``trigger`` is ``first_purchase``, ``purchase`` or ``interaction:<kind>``. A rule fires only for
    events after it was created, so adding one never floods the team with follow-ups for history.
    """

    __tablename__ = "follow_up_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(32))
    delay_days: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)


class TeamMember(Base):
    """A Slack user who uses crm-bot, with the role that decides what they may see."""

    __tablename__ = "team_members"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    # Learned from the Slack profile and refreshed on every lookup; the two above, set by the team, win.
    slack_timezone: Mapped[str | None] = mapped_column(String(64))
    slack_locale: Mapped[str | None] = mapped_column(String(16))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00")
    digest_weekdays: Mapped[str] = mapped_column(String(20), default="mon-fri")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)


class AuditEvent(Base):
    """Who did what to which customer, through which surface. Holds ids, never personal data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerScore(Base):
    """The latest analytics of one customer, for the profile card (analytics run once a day)."""

    __tablename__ = "customer_scores"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    scored_on: Mapped[dt.date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(32))
    rfm_score: Mapped[str | None] = mapped_column(String(3))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    churn_risk: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    next_step_key: Mapped[str] = mapped_column(String(32), default="")
    p_alive: Mapped[float | None] = mapped_column(Float)


class KpiSnapshot(Base):
    """A day's KPIs for the team (``owner_id`` empty) or one owner, kept for the weekly trend chart."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (UniqueConstraint("snapshot_date", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[dt.date] = mapped_column(Date)
    owner_id: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[int] = mapped_column(Integer)
    at_risk: Mapped[int] = mapped_column(Integer)
    churned: Mapped[int] = mapped_column(Integer)
    reactivated: Mapped[int] = mapped_column(Integer)
    retention_rate: Mapped[float | None] = mapped_column(Float)


class ClaimColumns:
    """A claim on one message to post, taken before posting so replicas never double
    (``crm_core.delivery.claims``): a digest, or an alert in one channel."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(200))


class DigestDelivery(ClaimColumns, Base):
    """A claim on one digest (recipient, local date), taken before posting so replicas never double."""

    __tablename__ = "digest_deliveries"

    recipient_id: Mapped[str] = mapped_column(String(32))
    local_date: Mapped[dt.date] = mapped_column(Date)


class AlertSubscription(Base):
    """A channel that wants one topic of alerts (``crm_core.alerts``), of one owner's customers or all
    (``owner_id`` empty, so the database can keep one row per channel, topic and owner)."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (UniqueConstraint("channel_id", "topic", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)


class AlertEvent(Base):
    """Something a channel may be alerted to, recorded in the transaction of what caused it (an outbox).

    ``key`` makes an event that must happen once (a follow-up becoming overdue) one row, whoever
    notices it first. ``detail`` holds ids and dates only, never text a person typed.
    """

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_topic_occurred", "topic", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(100), unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)


class AlertDelivery(ClaimColumns, Base):
    """A claim on posting one alert event in one channel."""

    __tablename__ = "alert_deliveries"

    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))


class InboxEntry(Base):
    """A request acknowledged to Slack, kept until a worker has answered it (``crm_core.inbox``).

    ``key`` is Slack's own id of the request (a trigger id, an event id), so a replay or a retry of it
    is one row: the second insert is refused by the database and the request ignored. A row is owned
    by ``claimed_by`` until ``claimed_until``; after that any process may take it again, which is how
    the work of a process that died is finished. ``done_at`` is set in the handler's own transaction.
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    handler: Mapped[str] = mapped_column(String(100))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)


class PostedMessage(Base):
    """A message the bot posted in Slack that names a customer: where it is, so an erasure can list it.

    Thread confirmations, shared profile cards and digests say customers' names; the person who
    asks to be erased is owed a list of them (and their removal, ``crm-bot privacy erase
    --delete-slack-messages``). Only the place is kept (channel id and ts), never the text.
    """

    __tablename__ = "posted_messages"
    __table_args__ = (UniqueConstraint("customer_id", "channel_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=stored_now)
