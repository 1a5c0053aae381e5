"""What a pacer sees, what it learns from, and what it answers.

A pacer may use only what a real dialer can observe: agents' states and time in
state, calls in flight and their age, and outcomes as they happen. Nothing about the
traffic model (the simulator's scenario) ever reaches it.

Times are the engine's monotonic seconds; ``wall`` is the campaign's local wall clock
(tz-aware) for pacers that reason in hours of the day (VICIdial's taper).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dialer.ids import AgentId

FloatArray = npt.NDArray[np.float64]

_EMPTY: FloatArray = np.zeros(0, dtype=np.float64)


def empty_array() -> FloatArray:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """The dialer's state at one instant, as the runner sees it.

    Agents: ``ready_agents`` are ready and not reserved, longest idle first.
    ``talk_elapsed`` / ``wrapup_elapsed`` hold, per busy agent, seconds spent so far in
    the current conversation / after-call work (open, censored spells).
    Calls: ``pending_ages`` are seconds since originate of unreserved calls with no
    verdict yet (ringing or under detection); ``reserved_pending`` counts the reserved
    ones (progressive). ``waiting`` counts detected humans waiting for an agent now.
    """

    now: float
    wall: datetime
    ready_agents: tuple[AgentId, ...]
    talk_elapsed: FloatArray = field(default_factory=empty_array)
    wrapup_elapsed: FloatArray = field(default_factory=empty_array)
    reserved_agents: int = 0
    paused_agents: int = 0
    logged_in: int = 0
    pending_ages: FloatArray = field(default_factory=empty_array)
    reserved_pending: int = 0
    waiting: int = 0
    connected: int = 0
    lines_free: int = 1_000_000
    leads_exhausted: bool = False
    abandon_target: float = 0.03
    connect_deadline: float = 2.0

    @property
    def ready(self) -> int:
        return len(self.ready_agents)

    @property
    def in_flight(self) -> int:
        """Calls placed and not yet with an agent: pending (any) plus waiting."""
        return len(self.pending_ages) + self.reserved_pending + self.waiting


@dataclass(frozen=True, slots=True)
class DialResolved:
    """A dial reached its fate as far as pacing cares.

    ``live`` is True when detection declared a person (the call needs an agent);
    ``at - placed_at`` is then the dial-to-live delay the predictive pacer learns.
    ``reserved`` calls (progressive) are reported too; learners may use them.
    """

    placed_at: float
    at: float
    live: bool
    reserved: bool = False


@dataclass(frozen=True, slots=True)
class SpellEnded:
    """An agent finished a conversation (``talk``) or after-call work (``wrapup``)."""

    kind: str  # "talk" | "wrapup"
    duration: float
    at: float


@dataclass(frozen=True, slots=True)
class LiveCallRouted:
    """A live call (detected person) was settled: bridged, abandoned, or lost.

    ``abandoned``: no agent within the connect deadline (message played). ``lost``: the
    person hung up before an agent reached them (not an abandon under the TCPA measure).
    """

    at: float
    abandoned: bool
    lost: bool = False
    wait: float = 0.0
    reserved: bool = False


Observation = DialResolved | SpellEnded | LiveCallRouted


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """How many calls to place now and why.

    ``for_agents`` (progressive) names the agents the calls are reserved for; its length
    equals ``dials`` when set. ``explain`` holds the numbers behind the decision, so each
    decision can be logged and audited.
    """

    dials: int
    for_agents: tuple[AgentId, ...] = ()
    explain: Mapping[str, float | int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dials < 0:
            raise ValueError("a pacing decision cannot be negative")
        if self.for_agents and len(self.for_agents) != self.dials:
            raise ValueError("for_agents must name one agent per dial")


class Pacer(Protocol):
    """A pacing algorithm. Pure: the runner feeds it snapshots and observations.

    ``next_decision_at()`` is the engine time before which the pacer will not dial
    whatever happens (``-inf``: any time), so the runner neither wakes up nor builds a
    snapshot for it before then; routing stays event-driven regardless.
    """

    name: str

    def next_decision_at(self) -> float: ...

    def observe(self, obs: Observation) -> None: ...

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision: ...


def cap_dials(wanted: int, snapshot: PacingSnapshot) -> int:
    """Clamp a wanted dial count to what may be placed: never negative, never more than
    the free lines (trunk channels), and nothing once the leads have run out."""
    if snapshot.leads_exhausted:
        return 0
    return max(0, min(wanted, snapshot.lines_free))
