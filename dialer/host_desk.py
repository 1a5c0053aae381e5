"""The campaign host as the agent API's engine (``dialer.agent_api``).

``HostDesk`` is the API's ``AgentDesk`` for a host of several campaigns: agent commands
go to the host (which attaches each agent to one campaign, ``dialer.assignment``),
agent transitions and call notices of every campaign's runner reach the API's
listeners. ``StoreDispositions`` is the API's ``DispositionSink``: it hands each
disposition to ``dialer.dispositions.record_disposition`` (the same path the simulated
agents use).

An agent logged in to the host but attached to no campaign (none of its campaigns can
use it now) shows as ready; one paused while unattached shows as paused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from agents.state import Agent, AgentState
from dialer.call_notices import CallNotice
from dialer.campaign_host import CampaignHost
from dialer.disposition import Disposition, DispositionError
from dialer.disposition_codes import STANDARD_CODES
from dialer.dispositions import (
    DispositionRequest,
    call_context,
    record_disposition,
)
from dialer.ids import AgentId, CallId
from dialer.leads import DialTarget
from dialer.runner import CampaignRunner
from dialer.store import Store
from dialer.store.models import Lead
from simulator.held_loop import clock_hold

if TYPE_CHECKING:
    from dialer.agent_api import AgentDesk, DispositionSink


class HostDesk:
    def __init__(self, host: CampaignHost) -> None:
        self._host = host
        self._agent_listeners: list[Callable[[Agent], None]] = []
        self._call_listeners: list[Callable[[CallNotice], None]] = []
        host.add_agent_listener(self._on_agent)
        host.on_runner_started(self._on_runner)

    def _on_agent(self, campaign: str, agent: Agent) -> None:
        for listener in self._agent_listeners:
            listener(agent)

    def _on_runner(self, campaign: str, runner: CampaignRunner) -> None:
        runner.add_call_listener(self._on_call)

    def _on_call(self, notice: CallNotice) -> None:
        for listener in self._call_listeners:
            listener(notice)

    def login(self, agent_id: AgentId) -> None:
        self._host.login(agent_id)

    def logout(self, agent_id: AgentId) -> None:
        self._host.logout(agent_id)

    def pause(self, agent_id: AgentId, reason: str) -> None:
        self._host.pause(agent_id, reason)

    def resume(self, agent_id: AgentId) -> None:
        self._host.resume(agent_id)

    def finish_wrapup(self, agent_id: AgentId) -> None:
        self._host.finish_wrapup(agent_id)

    @property
    def agents(self) -> Mapping[AgentId, Agent]:
        """Every agent logged in to the host, as its campaign sees it."""
        now = self._host.clock.now()
        out: dict[AgentId, Agent] = {}
        for agent_id, reason in self._host.unattached().items():
            state = AgentState.READY if reason is None else AgentState.PAUSED
            out[agent_id] = Agent(agent_id, state, now, pause_reason=reason)
        for runner in self._host.runners.values():
            for agent_id, agent in runner.agents.items():
                if self._host.agent_campaign(agent_id) is not None and (
                    agent.state is not AgentState.OFFLINE
                ):
                    out[agent_id] = agent
        return out

    def add_agent_listener(self, listener: Callable[[Agent], None]) -> None:
        self._agent_listeners.append(listener)

    def add_call_listener(self, listener: Callable[[CallNotice], None]) -> None:
        self._call_listeners.append(listener)


class StoreDispositions:
    """The API's ``DispositionSink`` on the store; ``wall`` is the engine's wall clock."""

    def __init__(self, store: Store, *, wall: Callable[[], datetime]) -> None:
        self._store = store
        self._wall = wall

    async def record(
        self, agent: AgentId, call: CallId, target: DialTarget, disposition: Disposition
    ) -> None:
        with clock_hold(asyncio.get_running_loop()):
            if disposition.currency is not None:
                ctx = await call_context(self._store, call)
                async with self._store.session() as s:
                    q = select(Lead.currency).where(Lead.id == ctx.lead_id)
                    currency = (await s.execute(q)).scalar_one()
                if currency != disposition.currency:
                    # Promises are stored in the debt's currency; never convert silently.
                    raise DispositionError(
                        "currency", f"the debt is in {currency}, not {disposition.currency}"
                    )
            code = disposition.code
            await record_disposition(
                self._store,
                DispositionRequest(
                    call=call,
                    agent=agent,
                    code=code,
                    note=disposition.note,
                    promise_amount=disposition.amount,
                    promise_due=disposition.due,
                    callback_at=disposition.callback_at,
                    callback_for_anyone=not disposition.callback_mine,
                ),
                at=self._wall(),
                # The API checked custom codes against the campaign's configuration.
                custom_codes=() if code in STANDARD_CODES else (code,),
            )


if TYPE_CHECKING:  # mypy checks that both satisfy the agent API's protocols

    def _conforms(host: CampaignHost, store: Store) -> tuple[AgentDesk, DispositionSink]:
        return HostDesk(host), StoreDispositions(store, wall=host.clock.wall)
