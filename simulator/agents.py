"""Simulated agents: they log in and out on the scenario's schedule and do their
after-call work, through the same runner commands an agent desktop uses.

Schedule semantics (SCENARIOS.md): when the count falls, idle agents leave at once and
busy ones leave after their call and wrap-up; the dialer learns of a logout only when it
happens (so the leaving is decided here, never announced to the runner in advance).
"""

from __future__ import annotations

import asyncio

import numpy as np

from agents.state import Agent, AgentState
from dialer.ids import AgentId
from dialer.runner import CampaignRunner
from simulator.ledger import Ledger
from simulator.scenario import Scenario
from simulator.telephony import SimTelephony


def agent_name(i: int) -> AgentId:
    return AgentId(f"A{i:03d}")


class SimAgents:
    def __init__(
        self,
        scenario: Scenario,
        *,
        runner: CampaignRunner,
        telephony: SimTelephony,
        rng: np.random.Generator,
        ledger: Ledger,
        loop: asyncio.AbstractEventLoop,
        t0: float,
    ) -> None:
        self._sc = scenario
        self._runner = runner
        self._tel = telephony
        self._rng = rng
        self._ledger = ledger
        self._loop = loop
        self._t0 = t0
        self._active: set[AgentId] = set()  # logged in and not told to leave
        self._leaving: set[AgentId] = set()  # logged in, will leave after the current call
        self._next = 0
        self._offline: list[AgentId] = []  # logged out earlier, first to come back
        self._free_since: dict[AgentId, float] = {}
        self._wrap_started: dict[AgentId, float] = {}
        runner.add_agent_listener(self._on_agent)

    def start(self) -> None:
        self._set_target(self._sc.agents.count)
        for at, count in self._sc.agents.schedule:
            self._loop.call_at(self._t0 + at, self._set_target, count)

    def _t(self) -> float:
        return self._loop.time() - self._t0

    def _set_target(self, count: int) -> None:
        # Agents told to leave come back first: they never actually left.
        while len(self._active) < count and self._leaving:
            agent = min(self._leaving)
            self._leaving.discard(agent)
            self._active.add(agent)
        while len(self._active) < count:
            if self._offline:
                agent = self._offline.pop(0)
            else:
                self._next += 1
                agent = agent_name(self._next)
            self._active.add(agent)
            self._ledger.logged_in(agent, self._t())
            self._runner.login(agent)
        if len(self._active) > count:
            agents = self._runner.agents
            # Idle agents first (longest idle first), then busy ones by name.
            idle = sorted(
                (a for a in self._active if agents[a].state is AgentState.READY),
                key=lambda a: (agents[a].since, a),
            )
            busy = sorted(a for a in self._active if agents[a].state is not AgentState.READY)
            for agent in (idle + busy)[: len(self._active) - count]:
                self._active.discard(agent)
                if agents[agent].state in (AgentState.READY, AgentState.PAUSED):
                    self._logout(agent)
                else:
                    self._leaving.add(agent)

    def _logout(self, agent: AgentId) -> None:
        self._runner.logout(agent)
        self._ledger.logged_out(agent, self._t())
        self._offline.append(agent)
        self._free_since.pop(agent, None)

    def _on_agent(self, agent: Agent) -> None:
        st = agent.state
        aid = agent.id
        if st is AgentState.WRAPUP:
            self._wrap_started[aid] = self._t()
            # A machine wrongly passed as a person needs no after-call work.
            if agent.call is not None and agent.call in self._tel.machine_calls:
                wrap = 0.0
            else:
                wrap = self._sc.agents.wrapup.sample(self._rng)
            self._loop.call_at(self._loop.time() + wrap, self._wrapup_done, aid)
        elif st is AgentState.ON_CALL:
            since = self._free_since.pop(aid, None)
            if since is not None:
                self._ledger.waits.append(self._t() - since)
        elif st is AgentState.READY:
            if aid in self._leaving:
                # A reserved call that failed, or a dropped bridge: leave now.
                self._loop.call_soon(self._leave_now, aid)
            elif aid not in self._free_since:
                self._free_since[aid] = self._t()

    def _leave_now(self, aid: AgentId) -> None:
        if aid in self._leaving and self._runner.agents[aid].state is AgentState.READY:
            self._leaving.discard(aid)
            self._logout(aid)

    def _wrapup_done(self, aid: AgentId) -> None:
        started = self._wrap_started.pop(aid, self._t())
        self._ledger.wrapped(aid, started, self._t())
        if aid in self._leaving:
            self._leaving.discard(aid)
            self._logout(aid)
        else:
            self._runner.finish_wrapup(aid)
