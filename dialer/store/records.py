"""What the store hands out: frozen values, never live ORM objects.

Callers (CLI, reports, the agent API) get plain snapshots they may keep across awaits
and sessions. Times are tz-aware UTC; money is ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    mode: str
    settings: dict[str, Any]
    default_region: str
    status: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: int
    code: str
    name: str
    active: bool
    campaigns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    id: int
    e164: str
    kind: str
    priority: int
    time_zone: str
    country: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class LeadInfo:
    id: int
    campaign: str
    external_id: str
    debtor_name: str
    debt_amount: Decimal
    currency: str
    days_past_due: int
    segment: str | None
    owner_agent: str | None
    priority: float
    custom: dict[str, Any]
    next_eligible_at: datetime
    status: str
    phones: tuple[PhoneInfo, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    id: int
    call_id: str | None
    campaign: str
    lead_id: int
    phone: str  # E.164 with "+"
    worker: str
    reserved_for: str | None
    state: str
    created_at: datetime
    placed_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    amd_verdict: str | None
    agent: str | None
    abandoned: bool


@dataclass(frozen=True, slots=True)
class DispositionInfo:
    id: int
    attempt_id: int | None
    lead_id: int
    agent: str | None
    code: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PromiseInfo:
    id: int
    lead_id: int
    attempt_id: int | None
    amount: Decimal
    currency: str
    due_date: date
    status: str
    paid_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CallbackInfo:
    id: int
    lead_id: int
    agent: str | None
    at: datetime
    done: bool


@dataclass(frozen=True, slots=True)
class NewPhone:
    """A phone to add with a lead: E.164 with "+", IANA zone, ISO country."""

    e164: str
    time_zone: str
    country: str
    kind: str = "mobile"
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NewLead:
    """A lead to add (``Store.add_leads``); ``next_eligible_at`` None: eligible at once."""

    external_id: str
    debt_amount: Decimal
    currency: str
    phones: tuple[NewPhone, ...]
    debtor_name: str = ""
    days_past_due: int = 0
    segment: str | None = None
    owner_agent: str | None = None
    priority: float = 0.0
    custom: dict[str, Any] = field(default_factory=dict)
    next_eligible_at: datetime | None = None
