"""The lead supply: where the runner gets the next (lead, phone) pairs to dial.

The supply owns eligibility (calling hours, DNC, caps, retry delays: ``rules/``) and
priority order; the runner only asks for the next ``count`` eligible targets. In
progressive mode it asks *for an agent*: the supply then returns that agent's own
leads first and unowned leads after; a lead owned by agent A is never returned for
anyone else, and never for an unreserved (predictive) call.

``started`` is awaited before the originate and ``finished`` after the call's last
event, so that a store-backed supply writes the attempt before the dial (a crash never
loses or repeats a dial). The simulator's synthetic portfolio is one implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.ids import AgentId, CallId, LeadId


@dataclass(frozen=True, slots=True)
class DialTarget:
    lead: LeadId
    number: str  # E.164 digits
    owner: AgentId | None = None


class AttemptOutcome(StrEnum):
    """How one dial ended, as the engine saw it (the store's attempt outcome)."""

    CONNECTED = "connected"  # a detected person reached an agent
    ABANDONED = "abandoned"  # a detected person got the identification message
    LOST = "lost"  # a detected person hung up before an agent reached them
    MACHINE = "machine"
    HUNG_UP_IN_DETECTION = "hung_up_in_detection"
    NOT_SURE = "not_sure"
    FAX = "fax"
    SIT = "sit"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    call: CallId
    target: DialTarget
    outcome: AttemptOutcome
    placed_at: datetime
    ended_at: datetime
    agent: AgentId | None = None
    amd_verdict: str | None = None
    answered_at: datetime | None = None  # when the far end picked up; None: never


class LeadSupply(Protocol):
    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        """Up to ``count`` eligible targets, best first; fewer means none are eligible now."""
        ...

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        """The attempt is about to be dialled: persist it before the originate."""

    async def finished(self, result: AttemptResult) -> None:
        """The attempt's outcome is known."""
