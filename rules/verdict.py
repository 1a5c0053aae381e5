"""The policy's answer: a value, never an exception (a denial is not an error)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialer.ids import AgentId


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule's answer at one moment.

    ``until``: for a failed check, the earliest moment this rule alone could pass
    (None: never, e.g. DNC); for a passed check, usually None.
    """

    rule: str
    passed: bool
    reason: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """May we dial this phone of this lead now, and if not, why and when next.

    ``next_eligible``: the earliest moment (at or after the evaluated one) at which every
    rule passes, given the same facts; equals the evaluated moment when allowed; None when
    never (DNC) or not within the policy's search horizon.
    ``priority_boost``: added to the lead's base priority when a follow-up is due
    (a callback or a promise-to-pay follow-up); ``due_reason`` says which.
    ``route_to``: the agent this call must go to (an agent-owned callback), if any.
    """

    allowed: bool
    checks: tuple[RuleCheck, ...]  # every rule that applied, passed or not
    next_eligible: datetime | None
    priority_boost: float = 0.0
    due_reason: str | None = None
    route_to: AgentId | None = None
    at: datetime | None = None  # the evaluated moment (UTC)

    @property
    def failed(self) -> tuple[RuleCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reason(self) -> str:
        """One line: the failed rules' reasons, or "allowed"."""
        bad = self.failed
        return "; ".join(f"{c.rule}: {c.reason}" for c in bad) if bad else "allowed"
