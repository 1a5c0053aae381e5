"""Ground truth of a simulated shift, and the result it turns into.

The simulator knows what really happened (a person or a machine, patience, who the
agent heard); the engine only knows what a real dialer would. Every result key of
``../shared/SCENARIOS.md`` is computed here, from the truth, clipped to the shift.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from dialer.ids import AgentId


@dataclass(slots=True)
class AgentLedger:
    logged: float = 0.0
    talk: float = 0.0
    wrapup: float = 0.0
    hold: float = 0.0  # machines passed as people: neither talk nor wrap-up
    login_at: float | None = None


@dataclass(slots=True)
class Ledger:
    duration: float
    dials: int = 0
    answered_human: int = 0
    answered_machine: int = 0
    busy: int = 0
    no_answer: int = 0
    failed: int = 0
    connected: int = 0
    abandoned: int = 0
    abandoned_people: int = 0
    lost_in_detection: int = 0
    amd_false_machine: int = 0
    connect_delays: list[float] = field(default_factory=list)
    hour_connected: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    hour_abandoned: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    agents: dict[AgentId, AgentLedger] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)

    def _clip(self, start: float, end: float) -> float:
        return max(0.0, min(end, self.duration) - max(start, 0.0))

    def agent(self, agent: AgentId) -> AgentLedger:
        led = self.agents.get(agent)
        if led is None:
            led = self.agents[agent] = AgentLedger()
        return led

    # -- agent time, as intervals [start, end) clipped to the shift
    def logged_in(self, agent: AgentId, at: float) -> None:
        self.agent(agent).login_at = at

    def logged_out(self, agent: AgentId, at: float) -> None:
        led = self.agent(agent)
        if led.login_at is not None:
            led.logged += self._clip(led.login_at, at)
            led.login_at = None

    def talked(self, agent: AgentId, start: float, end: float) -> None:
        self.agent(agent).talk += self._clip(start, end)

    def held(self, agent: AgentId, start: float, end: float) -> None:
        self.agent(agent).hold += self._clip(start, end)

    def wrapped(self, agent: AgentId, start: float, end: float) -> None:
        self.agent(agent).wrapup += self._clip(start, end)

    # -- calls
    def bridged(self, detected_at: float, delay: float | None) -> None:
        self.connected += 1
        self.hour_connected[int(detected_at // 3600)] += 1
        if delay is not None:
            self.connect_delays.append(delay)

    def abandon(self, detected_at: float, *, person: bool) -> None:
        self.abandoned += 1
        if person:
            self.abandoned_people += 1
        self.hour_abandoned[int(detected_at // 3600)] += 1

    def close(self) -> None:
        for agent in self.agents:
            self.logged_out(agent, self.duration)

    def result(self, *, now: float | None = None) -> dict[str, float | int]:
        """The numeric result keys of SCENARIOS.md (the caller adds the identity keys).

        Mid-run (``now`` given), sessions still open count up to ``now``.
        """
        logged = sum(a.logged for a in self.agents.values())
        if now is not None:
            logged += sum(
                self._clip(a.login_at, now) for a in self.agents.values() if a.login_at is not None
            )
        talk = sum(a.talk for a in self.agents.values())
        wrap = sum(a.wrapup for a in self.agents.values())
        hold = sum(a.hold for a in self.agents.values())
        settled = self.connected + self.abandoned
        worst = 0.0
        for hour in set(self.hour_connected) | set(self.hour_abandoned):
            n = self.hour_connected.get(hour, 0) + self.hour_abandoned.get(hour, 0)
            if n >= 20:
                worst = max(worst, self.hour_abandoned.get(hour, 0) / n)
        true_bad = self.abandoned_people + self.amd_false_machine + self.lost_in_detection
        p95 = float(np.percentile(self.connect_delays, 95)) if self.connect_delays else 0.0
        return {
            "dials": self.dials,
            "answered_human": self.answered_human,
            "answered_machine": self.answered_machine,
            "busy": self.busy,
            "no_answer": self.no_answer,
            "failed": self.failed,
            "connected": self.connected,
            "abandoned": self.abandoned,
            "lost_in_detection": self.lost_in_detection,
            "amd_false_machine": self.amd_false_machine,
            "abandon_rate": self.abandoned / settled if settled else 0.0,
            "abandon_rate_true": true_bad / self.answered_human if self.answered_human else 0.0,
            "max_hourly_abandon_rate": worst,
            "agent_logged_seconds": logged,
            "agent_talk_seconds": talk,
            "agent_wrapup_seconds": wrap,
            "agent_wait_seconds": max(0.0, logged - talk - wrap - hold),
            "occupancy": (talk + wrap) / logged if logged else 0.0,
            "talk_minutes_per_agent_hour": 60.0 * talk / logged if logged else 0.0,
            "mean_wait_between_calls_s": float(np.mean(self.waits)) if self.waits else 0.0,
            "connect_delay_p95_s": p95 if math.isfinite(p95) else 0.0,
        }
