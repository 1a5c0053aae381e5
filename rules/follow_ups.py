"""Promise-to-pay follow-ups and agreed callbacks: when each becomes due.

The store schedules with these; ``ContactPolicy.evaluate`` reports a due one as a passing
check that raises the lead's priority (ARCHITECTURE.md: "promised-payment follow-ups
due today first").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.ids import AgentId
from rules.facts import CallbackFact, LeadFacts, PromiseFact
from rules.localtime import start_of_day, to_utc


def follow_up_at(promise: PromiseFact, tz: ZoneInfo) -> datetime:
    """When a promise's follow-up call becomes due (UTC): the start of the debtor's local
    day after the promised date. The calling window then decides the first dialable
    moment of that day."""
    return start_of_day(promise.due + timedelta(days=1), tz)


def needs_follow_up(promise: PromiseFact) -> bool:
    """Still awaiting payment: pending and no payment recorded (kept or broken promises,
    and paid ones, are settled by the store)."""
    return promise.status == "pending" and not promise.paid


def due_callbacks(callbacks: tuple[CallbackFact, ...], *, at: datetime) -> tuple[CallbackFact, ...]:
    """The open callbacks whose agreed time has come at ``at``, earliest first."""
    when = to_utc(at)  # compare in UTC: same-zone datetimes compare by wall clock
    return tuple(sorted((c for c in callbacks if to_utc(c.at) <= when), key=lambda c: to_utc(c.at)))


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One scheduled reason to call a lead: at ``at`` (UTC), for ``agent`` if set."""

    kind: str  # "callback" | "promise"
    at: datetime
    agent: AgentId | None
    reason: str


def follow_ups(lead: LeadFacts, tz: ZoneInfo) -> tuple[FollowUp, ...]:
    """Every open callback and every promise awaiting payment, as dated follow-ups,
    earliest first. ``tz`` is the debtor's zone (for the promise's local date)."""
    out: list[FollowUp] = []
    for cb in lead.callbacks:
        who = f" with agent {cb.agent}" if cb.agent is not None else ""
        out.append(
            FollowUp(
                kind="callback",
                at=to_utc(cb.at),
                agent=cb.agent,
                reason=f"callback agreed for {cb.at.astimezone(tz):%Y-%m-%d %H:%M %Z}{who}",
            )
        )
    for p in lead.promises:
        if needs_follow_up(p):
            out.append(
                FollowUp(
                    kind="promise",
                    at=follow_up_at(p, tz),
                    agent=None,
                    reason=f"promise to pay {p.amount} by {p.due.isoformat()} not paid",
                )
            )
    return tuple(sorted(out, key=lambda f: (f.at, f.kind)))
