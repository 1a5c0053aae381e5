"""What the campaign host needs from the database (its control plane), as a Protocol.

The host never talks SQL: ``dialer.ops_db.StoreControl`` implements this on the store,
and a test may implement it on anything. Statuses are the store's campaign statuses
(``created``, ``running``, ``paused``, ``stopped``): an operator's ``dialer campaign
stop|pause|start`` only writes the status; the running host reads it every
``poll_interval`` real seconds and acts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class AgentSpan:
    """An agent in ``state`` (``agents.state.AgentState`` value) in a campaign, from
    ``start`` to ``end`` (engine wall clock, tz-aware)."""

    campaign: str
    agent: str
    state: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CampaignBeat:
    """The running host's view of one campaign, written every poll (``dialer campaign
    status`` reads it). ``engine_time`` is the engine's wall clock (virtual in the
    simulator); the beat's real time is stamped by the control plane."""

    campaign: str
    host: str
    state: str  # running | paused | draining | stopped
    engine_time: datetime
    started_at: datetime  # engine wall clock when this host started the campaign
    live: Mapping[str, object] = field(default_factory=dict)


class ControlPlane(Protocol):
    async def statuses(self, campaigns: Sequence[str]) -> dict[str, str]:
        """The current status of each named campaign."""
        ...

    async def set_status(self, campaign: str, status: str) -> None:
        """Write a campaign's status (the host does so when it stops a campaign)."""

    async def beat(self, beats: Sequence[CampaignBeat]) -> None:
        """Record the host's heartbeat for these campaigns."""

    async def record_spans(self, spans: Sequence[AgentSpan]) -> None:
        """Persist finished agent state spans (the report's talk/wait/wrap-up times)."""
