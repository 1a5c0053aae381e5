"""The store's tables (SQLAlchemy 2 typed models), one schema for SQLite and PostgreSQL.

Invariants:
- every timestamp is tz-aware in Python and stored as UTC (``types.UtcDateTime``);
- money is ``NUMERIC(14, 2)`` (``types.Money``), never a float;
- agents are referred to by their ``code`` (the engine's ``AgentId``) in leads, attempts,
  dispositions and callbacks, so that a simulated floor and a real one look the same;
- a phone number is stored in E.164 with its ``+`` (``+5215512345678``); the runner's
  ``DialTarget.number`` is the same digits without the ``+``;
- the schema is created by the Alembic migrations in ``migrations/``, never by
  ``metadata.create_all`` (a test checks the migrations and these models agree).

Enumerated columns are short strings holding the ``StrEnum`` values below.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dialer.store.types import Money, UtcDateTime

# Deterministic constraint names: Alembic migrations and SQLite batch mode need them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CampaignStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class LeadStatus(StrEnum):
    ACTIVE = "active"  # may be claimed once next_eligible_at has passed
    DIALING = "dialing"  # claimed: an attempt is pending or placed
    CLOSED = "closed"  # nothing more to do (paid, refused, do-not-call, wrong number...)


class AttemptState(StrEnum):
    PENDING = "pending"  # claimed, not yet handed to the telephony
    PLACED = "placed"  # committed before the originate; the call may be ringing
    FINISHED = "finished"  # outcome recorded
    RECONCILED = "reconciled"  # closed after a crash: outcome unknown


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(20))  # predictive | progressive | ratio
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.CREATED)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the engine's AgentId
    name: Mapped[str] = mapped_column(String(200), default="")
    # "sha256$<hex>" of the token; the plaintext is never stored. A token is 32 random
    # bytes (secrets.token_urlsafe), so a fast hash is enough: there is nothing to guess.
    token_hash: Mapped[str | None] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CampaignAgent(Base):
    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "external_id", name="uq_leads_campaign_external"),
        # The same debt in other campaigns (Reg F counts calls per debt; rules facts).
        Index("ix_leads_external_id", "external_id"),
        # The claim query: one owner's (or the unowned) active leads walked in priority
        # order, the eligibility time read from the index itself: no sort of the whole
        # campaign per claim (migration 0002).
        Index(
            "ix_leads_priority_claim",
            "campaign_id",
            "owner_agent",
            "status",
            "priority",
            "next_eligible_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))  # the creditor's account id
    debtor_name: Mapped[str] = mapped_column(String(200), default="")
    debt_amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    segment: Mapped[str | None] = mapped_column(String(50))
    owner_agent: Mapped[str | None] = mapped_column(String(64))  # agents.code, None = anyone
    priority: Mapped[float] = mapped_column(default=0.0)  # higher is dialled first
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_eligible_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Phone(Base):
    __tablename__ = "phones"
    __table_args__ = (UniqueConstraint("lead_id", "e164", name="uq_phones_lead_e164"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)  # "+" and up to 15 digits
    kind: Mapped[str] = mapped_column(String(20), default="mobile")  # mobile/home/work/...
    priority: Mapped[int] = mapped_column(Integer, default=0)  # lower is tried first
    time_zone: Mapped[str] = mapped_column(String(64))  # IANA name
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166 alpha-2
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: wrong number


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_campaign_created", "campaign_id", "created_at"),
        Index("ix_attempts_lead_created", "lead_id", "created_at"),
        Index("ix_attempts_state", "campaign_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str | None] = mapped_column(String(100), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    phone_id: Mapped[int] = mapped_column(ForeignKey("phones.id", ondelete="CASCADE"))
    worker: Mapped[str] = mapped_column(String(100))  # the process that claimed it
    reserved_for: Mapped[str | None] = mapped_column(String(64))  # progressive: agents.code
    state: Mapped[str] = mapped_column(String(16), default=AttemptState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    placed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))  # dialer.leads.AttemptOutcome
    amd_verdict: Mapped[str | None] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(64))  # agents.code
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)


class Disposition(Base):
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    agent: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromiseToPay(Base):
    __tablename__ = "promises_to_pay"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=PromiseStatus.PENDING)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Payment(Base):
    """A payment the creditor reported (``dialer leads payments``). ``paid_on`` is the
    debtor's local date of payment; ``paid_at`` its moment when the file gave one (None:
    a date alone). ``allocated`` is the part already used to keep promises
    (``rules.settlement``): it only grows, so a payment never counts twice.
    ``reference`` is the creditor's payment id (or one derived from the row when the file
    has none); the same reference twice for a lead is one payment."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("lead_id", "reference", name="uq_payments_lead_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reference: Mapped[str] = mapped_column(String(120))
    allocated: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    agent: Mapped[str | None] = mapped_column(String(64))  # None: anyone may take it
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DncEntry(Base):
    __tablename__ = "dnc"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164 with "+"
    source: Mapped[str] = mapped_column(String(100))  # "import:<file>", "disposition", ...
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Operations tables (dialer.ops_db), plain tables rather than mapped classes: the hosts'
# heartbeat per campaign, and the agents' state spans for the reports' times.
campaign_live = Table(
    "ops_campaign_live",
    Base.metadata,
    Column("campaign", String(100), primary_key=True),
    Column("host", String(100), nullable=False),
    Column("state", String(16), nullable=False),
    Column("beat_at", DateTime(timezone=True), nullable=False),  # real time, UTC
    Column("engine_time", DateTime(timezone=True), nullable=False),  # engine wall clock
    Column("started_at", DateTime(timezone=True), nullable=False),  # engine wall clock
    Column("live", JSON, nullable=False),
)

agent_spans = Table(
    "ops_agent_spans",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign", String(100), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Index("ix_ops_agent_spans_campaign_start", "campaign", "started_at"),
)
