"""One process, several campaigns: the campaign host.

The host runs one ``CampaignRunner`` per campaign on one event loop and one shared
telephony backend (``TelephonyMux`` routes each call's events to its campaign). Each
campaign brings its own settings, pacer and lead supply (``HostedCampaign``). Agents may
be assigned to several campaigns and work for one at a time; ``dialer.assignment``
decides which, whenever an agent is free to move.

The database is the control plane (``ControlPlane``): every ``poll_interval`` real
seconds the host reads each campaign's status and acts on a change:

- ``running``: dial (again, after a pause);
- ``paused``: stop dialling; calls in flight end normally; idle agents move to another
  of their campaigns that is dialling (or wait unattached);
- ``stopped``: stop dialling and *drain*: calls in flight and wrap-ups end (at most
  ``drain_timeout`` engine seconds), then the campaign's runner ends.

``stop()`` (SIGINT/SIGTERM) drains every campaign the same way, writes ``stopped``
and makes ``run()`` return. The host also heartbeats each campaign's live numbers and
persists agent state spans (the report's talk, wait and wrap-up times).

Hooks for the agent API and the metrics: ``runners`` (by campaign name),
``on_runner_started(cb)`` / ``on_runner_stopped(cb)``, ``add_agent_listener(cb)`` and the
agent commands ``login``, ``logout``, ``pause``, ``resume``, ``finish_wrapup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from agents.state import Agent, AgentState
from dialer.assignment import CampaignLoad, choose_campaign
from dialer.clock import Clock
from dialer.errors import DialerError
from dialer.host_control import PAUSED, RUNNING, STOPPED, AgentSpan, CampaignBeat, ControlPlane
from dialer.ids import AgentId, CampaignId
from dialer.leads import LeadSupply
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from dialer.telephony_mux import CampaignPort, TelephonyMux
from pacing.base import Pacer
from simulator.held_loop import clock_hold

log = logging.getLogger("dialer.campaign_host")

ROLLING_WINDOW = 3600.0  # engine seconds of the rolling abandon rate (one hour)
_BUSY = frozenset({AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAPUP})

RunnerHook = Callable[[str, CampaignRunner], None]
AgentHook = Callable[[str, Agent], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSettings:
    """``poll_interval``: real seconds between control-plane reads and heartbeats.
    ``drain_timeout``: engine seconds a stopping campaign waits for calls in flight and
    wrap-ups before its runner ends anyway (their attempts are then reconciled by the
    store on the next start). ``host_id``: names this process in heartbeats."""

    poll_interval: float = 1.0
    drain_timeout: float = 600.0
    host_id: str = "host"

    def __post_init__(self) -> None:
        if not self.poll_interval > 0:
            raise ValueError("poll_interval: must be > 0 seconds")
        if self.drain_timeout < 0:
            raise ValueError("drain_timeout: must be >= 0 seconds")


@dataclass(frozen=True, slots=True)
class HostedCampaign:
    """One campaign to run: ``prefix`` names its calls (``<prefix><n>``, ends with ``.``)."""

    name: str
    mode: str
    settings: CampaignSettings
    pacer: Pacer
    leads: LeadSupply
    prefix: str


class _Live:
    """A hosted campaign's run-time state."""

    def __init__(self, spec: HostedCampaign, runner: CampaignRunner, port: CampaignPort) -> None:
        self.spec = spec
        self.runner = runner
        self.port = port
        self.task: asyncio.Task[None] | None = None
        self.state = RUNNING  # running | paused | draining | stopped
        self.drain_until = math.inf
        self.last_served = -math.inf
        self.started_wall: datetime | None = None
        self.samples: deque[tuple[float, int, int]] = deque()  # (now, live, abandoned)


class CampaignHost:
    def __init__(
        self,
        *,
        control: ControlPlane,
        telephony: TelephonyMux,
        clock: Clock,
        settings: HostSettings | None = None,
        assignments: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``assignments``: agent code -> the campaigns it may work for."""
        self._control = control
        self._mux = telephony
        self.clock = clock
        self.settings = settings or HostSettings()
        self._campaigns: dict[str, _Live] = {}
        self._assign: dict[AgentId, tuple[str, ...]] = {
            AgentId(a): tuple(c) for a, c in (assignments or {}).items()
        }
        self._attached: dict[AgentId, str] = {}  # agent -> campaign it works for now
        self._waiting: set[AgentId] = set()  # logged in, no campaign can use them now
        self._paused_agents: dict[AgentId, str] = {}  # paused while unattached: reason
        self._span_open: dict[AgentId, tuple[str, str, datetime]] = {}
        self._spans: list[AgentSpan] = []
        self._started_hooks: list[RunnerHook] = []
        self._stopped_hooks: list[RunnerHook] = []
        self._agent_hooks: list[AgentHook] = []
        self._stopping = False
        self.failures: dict[str, str] = {}  # campaign -> why its runner died
        self._wake: asyncio.Event | None = None
        self._last_poll = -math.inf

    # ------------------------------------------------------------------ hooks

    @property
    def runners(self) -> dict[str, CampaignRunner]:
        """Runners of the campaigns this host is running, by campaign name."""
        return {
            n: c.runner
            for n, c in self._campaigns.items()
            if c.task is not None and c.state != STOPPED
        }

    @property
    def campaign_names(self) -> list[str]:
        """Every campaign hosted, whatever its state."""
        return list(self._campaigns)

    def on_runner_started(self, hook: RunnerHook) -> None:
        """``hook(campaign, runner)`` when a campaign's runner starts (also for runners
        already started when the hook is added)."""
        self._started_hooks.append(hook)
        for name, runner in self.runners.items():
            hook(name, runner)

    def on_runner_stopped(self, hook: RunnerHook) -> None:
        self._stopped_hooks.append(hook)

    def add_agent_listener(self, hook: AgentHook) -> None:
        """``hook(campaign, agent)`` after every agent transition in any campaign."""
        self._agent_hooks.append(hook)

    def campaign_state(self, campaign: str) -> str:
        """running | paused | draining | stopped."""
        return self._campaigns[campaign].state

    def agent_campaign(self, agent: AgentId) -> str | None:
        """The campaign the agent works for now (None: not logged in, or waiting)."""
        return self._attached.get(agent)

    def assign(self, agent: AgentId, campaigns: Iterable[str]) -> None:
        """Set the campaigns ``agent`` may work for (from the agents table)."""
        self._assign[agent] = tuple(campaigns)

    # ------------------------------------------------------------------ campaigns

    def add_campaign(self, spec: HostedCampaign) -> CampaignRunner:
        if spec.name in self._campaigns:
            raise DialerError(f"campaign {spec.name!r} is already hosted")
        port = self._mux.port(spec.prefix)
        runner = CampaignRunner(
            settings=spec.settings,
            telephony=port,
            leads=spec.leads,
            pacer=spec.pacer,
            clock=self.clock,
            call_id_prefix=spec.prefix,
        )
        live = self._campaigns[spec.name] = _Live(spec, runner, port)
        runner.add_agent_listener(functools.partial(self._on_agent, spec.name))
        if self._wake is not None:  # already running: start it now
            self._start(live)
        return runner

    def _start(self, live: _Live) -> None:
        live.started_wall = self.clock.wall()
        live.task = asyncio.ensure_future(live.runner.run())
        for hook in self._started_hooks:
            hook(live.spec.name, live.runner)
        self._rebalance()

    async def run(self, *, until: float | None = None) -> None:
        """Run every hosted campaign until each is stopped (through the database or
        ``stop()``); ``until``: engine seconds from now after which the host stops itself
        (a bounded simulation)."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        pump = asyncio.ensure_future(self._mux.pump())
        for live in self._campaigns.values():
            self._start(live)
        end = math.inf if until is None else self.clock.now() + until
        try:
            await self._poll(force=True)
            while any(c.state != STOPPED for c in self._campaigns.values()):
                # A short engine-time tick; the database is read only every
                # poll_interval *real* seconds, so an accelerated simulation does not
                # hammer it and a real run answers an operator within a second.
                tick = min(0.25, self.settings.poll_interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), tick)
                self._wake.clear()
                if self.clock.now() >= end and not self._stopping:
                    self.stop()
                await self._poll()
                await self._check_drains()
                await self._check_runners()
        finally:
            for live in self._campaigns.values():
                if live.state != STOPPED:
                    await self._end(live)
            self._close_spans()
            with clock_hold(loop):
                await self._flush()
                # The last word: every campaign shows as stopped, not "draining".
                await self._control.beat([self._beat(c) for c in self._campaigns.values()])
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def stop(self) -> None:
        """Graceful stop of every campaign (SIGINT/SIGTERM): drain, then return."""
        self._stopping = True
        for live in self._campaigns.values():
            if live.state in (RUNNING, PAUSED):
                self._drain(live)
        if self._wake is not None:
            self._wake.set()

    async def _poll(self, *, force: bool = False) -> None:
        real = time.monotonic()
        if not force and real - self._last_poll < self.settings.poll_interval:
            return
        self._last_poll = real
        loop = asyncio.get_running_loop()
        names = [n for n, c in self._campaigns.items() if c.state != STOPPED]
        with clock_hold(loop):
            statuses = await self._control.statuses(names) if names else {}
        for name, status in statuses.items():
            self._apply_status(self._campaigns[name], status)
        self._sample()
        with clock_hold(loop):
            await self._flush()
            await self._control.beat([self._beat(c) for c in self._campaigns.values()])

    def _apply_status(self, live: _Live, status: str) -> None:
        if live.state in (STOPPED, "draining") or self._stopping:
            return
        if status == STOPPED and live.state in (RUNNING, PAUSED):
            log.info("campaign %s: stop requested, draining", live.spec.name)
            self._drain(live)
        elif status == PAUSED and live.state == RUNNING:
            log.info("campaign %s: paused", live.spec.name)
            live.state = PAUSED
            live.runner.stop_dialling()
            self._rebalance()
        elif status == RUNNING and live.state == PAUSED:
            log.info("campaign %s: resumed", live.spec.name)
            live.state = RUNNING
            live.runner.resume_dialling()
            self._rebalance()

    def _drain(self, live: _Live) -> None:
        live.state = "draining"
        live.runner.stop_dialling()
        live.drain_until = self.clock.now() + self.settings.drain_timeout
        self._rebalance()

    async def _check_drains(self) -> None:
        now = self.clock.now()
        for live in list(self._campaigns.values()):
            if live.state != "draining":
                continue
            busy = any(a.state in _BUSY for a in live.runner.agents.values())
            if (live.runner.calls_in_flight == 0 and not busy) or now >= live.drain_until:
                if live.runner.calls_in_flight:
                    log.warning(
                        "campaign %s: %d calls still in flight after the drain timeout",
                        live.spec.name,
                        live.runner.calls_in_flight,
                    )
                await self._end(live)

    async def _check_runners(self) -> None:
        """A runner that died (its database failed beyond the busy timeout, say) ends
        its campaign at once; the others go on. ``failures`` says why."""
        for live in list(self._campaigns.values()):
            if live.state != STOPPED and live.task is not None and live.task.done():
                await self._end(live)

    async def _end(self, live: _Live) -> None:
        name = live.spec.name
        live.state = STOPPED
        for agent_id, agent in list(live.runner.agents.items()):
            if self._attached.get(agent_id) == name:
                del self._attached[agent_id]
                if agent.state in (AgentState.READY, AgentState.PAUSED, AgentState.WRAPUP):
                    live.runner.logout(agent_id)
                self._waiting.add(agent_id)
        live.runner.stop()
        self._mux.release(live.spec.prefix)
        if live.task is not None:
            try:
                await live.task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # a runner's failure ends its own campaign only
                log.error("campaign %s: runner failed: %s: %s", name, type(exc).__name__, exc)
                self.failures[name] = f"{type(exc).__name__}: {exc}"
        for hook in self._stopped_hooks:
            hook(name, live.runner)
        with clock_hold(asyncio.get_running_loop()):
            await self._control.set_status(name, STOPPED)
        self._rebalance()

    # ------------------------------------------------------------------ agents

    def login(self, agent: AgentId) -> str | None:
        """Log the agent in to the host; returns the campaign it now works for (None:
        none of its campaigns can use it now; it waits and is placed when one can)."""
        if not self._assign.get(agent):
            raise DialerError(f"agent {agent!r} is not assigned to any running campaign")
        if agent in self._attached or agent in self._waiting:
            return self._attached.get(agent)
        self._waiting.add(agent)
        self._place(agent)
        return self._attached.get(agent)

    def logout(self, agent: AgentId) -> None:
        self._waiting.discard(agent)
        self._paused_agents.pop(agent, None)
        name = self._attached.pop(agent, None)
        if name is not None:
            self._campaigns[name].runner.logout(agent)

    def pause(self, agent: AgentId, reason: str) -> None:
        name = self._attached.get(agent)
        if name is None:
            self._require_logged_in(agent)
            self._waiting.discard(agent)
            self._paused_agents[agent] = reason
            return
        self._campaigns[name].runner.pause(agent, reason)

    def resume(self, agent: AgentId) -> None:
        if agent in self._paused_agents:
            del self._paused_agents[agent]
            self._waiting.add(agent)
            self._place(agent)
            return
        name = self._attached.get(agent)
        if name is None:
            raise DialerError(f"agent {agent!r} is not logged in")
        self._campaigns[name].runner.resume(agent)
        self._reconsider(agent)

    def finish_wrapup(self, agent: AgentId) -> None:
        """After-call work is done (the disposition is recorded): the agent is free,
        and may move to another of its campaigns (``dialer.assignment``)."""
        name = self._attached.get(agent)
        if name is None:
            raise DialerError(f"agent {agent!r} is not working for any campaign")
        runner = self._campaigns[name].runner
        target = self._choose(agent, current=name)
        if target is not None and target != name:
            runner.logout(agent)
            del self._attached[agent]
            self._attach(agent, target)
        else:
            runner.finish_wrapup(agent)
            if target is None:
                self._reconsider(agent)

    def unattached(self) -> dict[AgentId, str | None]:
        """Agents logged in but working for no campaign now: agent -> pause reason
        (None: ready, waiting for one of its campaigns to need it)."""
        out: dict[AgentId, str | None] = dict.fromkeys(self._waiting)
        out.update(self._paused_agents)
        return out

    def agent_state(self, agent: AgentId) -> Agent | None:
        name = self._attached.get(agent)
        return None if name is None else self._campaigns[name].runner.agents.get(agent)

    def _require_logged_in(self, agent: AgentId) -> None:
        if agent not in self._waiting and agent not in self._attached:
            raise DialerError(f"agent {agent!r} is not logged in")

    def _loads(self, agent: AgentId) -> list[CampaignLoad]:
        out = []
        for name in self._assign.get(agent, ()):
            live = self._campaigns.get(name)
            if live is None or live.state == STOPPED:
                continue
            snap = live.runner.snapshot()
            out.append(
                CampaignLoad(
                    campaign=CampaignId(name),
                    dialling=live.state == RUNNING,
                    waiting=snap.waiting,
                    # Stopped dialling reads as exhausted too; only "dialling" matters then.
                    has_leads=not snap.leads_exhausted,
                    last_served=live.last_served,
                )
            )
        return out

    def _choose(self, agent: AgentId, *, current: str | None) -> str | None:
        chosen = choose_campaign(
            self._loads(agent), current=None if current is None else CampaignId(current)
        )
        return None if chosen is None else str(chosen)

    def _attach(self, agent: AgentId, name: str) -> None:
        live = self._campaigns[name]
        self._waiting.discard(agent)
        self._attached[agent] = name
        live.last_served = self.clock.now()
        live.runner.login(agent)

    def _place(self, agent: AgentId) -> None:
        """A waiting agent goes to the campaign the rule picks, if any."""
        if agent not in self._waiting:
            return
        target = self._choose(agent, current=None)
        if target is not None:
            self._attach(agent, target)

    def _reconsider(self, agent: AgentId) -> None:
        """An idle agent whose campaign no longer dials moves, or waits unattached."""
        name = self._attached.get(agent)
        if name is None:
            self._place(agent)
            return
        live = self._campaigns[name]
        state = live.runner.agents[agent].state
        if state is not AgentState.READY:
            return  # busy or paused: reconsidered when free again
        target = self._choose(agent, current=name)
        if target == name:
            return
        live.runner.logout(agent)
        del self._attached[agent]
        self._waiting.add(agent)
        if target is not None:
            self._attach(agent, target)

    def _rebalance(self) -> None:
        """After a campaign starts, pauses, resumes or stops: place waiting agents and
        move idle ones whose campaign stopped dialling."""
        for agent in sorted(self._waiting):
            self._place(agent)
        for agent in sorted(self._attached):
            self._reconsider(agent)

    def _on_agent(self, campaign: str, agent: Agent) -> None:
        now_wall = self.clock.wall()
        prev = self._span_open.pop(agent.id, None)
        if prev is not None:
            self._spans.append(AgentSpan(prev[0], agent.id, prev[1], prev[2], now_wall))
        if agent.state is not AgentState.OFFLINE:
            self._span_open[agent.id] = (campaign, agent.state.value, now_wall)
        for hook in self._agent_hooks:
            hook(campaign, agent)

    def _close_spans(self) -> None:
        now_wall = self.clock.wall()
        for agent, (campaign, state, start) in self._span_open.items():
            self._spans.append(AgentSpan(campaign, agent, state, start, now_wall))
        self._span_open.clear()

    async def _flush(self) -> None:
        if self._spans:
            spans, self._spans = self._spans, []
            await self._control.record_spans(spans)

    # ------------------------------------------------------------------ live numbers

    def _sample(self) -> None:
        now = self.clock.now()
        for live in self._campaigns.values():
            stats = live.runner.stats
            live.samples.append((now, stats.live, stats.abandoned))
            while len(live.samples) > 2 and live.samples[1][0] <= now - ROLLING_WINDOW:
                live.samples.popleft()

    def live_numbers(self, campaign: str) -> dict[str, object]:
        """What ``dialer campaign status`` shows for a running campaign. Abandon rates
        are abandoned / live answers (``dialer.kpis``): over the host's run ("shift")
        and over the last hour of engine time ("rolling")."""
        live = self._campaigns[campaign]
        runner, stats = live.runner, live.runner.stats
        counts = runner.counts_by_state()
        available = sum(
            n for st, n in counts.items() if st not in (AgentState.OFFLINE, AgentState.PAUSED)
        )
        rolling = None
        if live.samples:
            _, live0, ab0 = live.samples[0]
            d_live = stats.live - live0
            rolling = (stats.abandoned - ab0) / d_live if d_live else None
        return {
            "mode": live.spec.mode,
            "agents": {st.value: n for st, n in counts.items() if n},
            "in_flight": runner.calls_in_flight,
            # Calls in flight per available agent: the dial level a supervisor reads.
            "dial_level": runner.calls_in_flight / available if available else 0.0,
            "last_decision": runner.last_decision.dials,
            "dials": stats.dials,
            "live": stats.live,
            "connected": stats.connected,
            "abandoned": stats.abandoned,
            "lost": stats.lost,
            "abandon_rate_shift": stats.abandoned / stats.live if stats.live else None,
            "abandon_rate_rolling": rolling,
            "abandon_target": live.spec.settings.abandon_target,
        }

    def _beat(self, live: _Live) -> CampaignBeat:
        return CampaignBeat(
            campaign=live.spec.name,
            host=self.settings.host_id,
            state=live.state,
            engine_time=self.clock.wall(),
            started_at=live.started_wall or self.clock.wall(),
            live=self.live_numbers(live.spec.name),
        )
