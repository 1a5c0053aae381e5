"""The campaign runner: tick -> pacer -> leads -> originate -> events -> routing.

One runner drives one campaign on one event loop. It is the same code in production and
in the simulator: only the telephony backend and the loop's clock differ.

Invariants:
- every state change goes through the pure state machines (``agents.state``,
  ``telephony.call_state``) and happens *before* any await, so an event that arrives
  while an order is in flight always sees the new state;
- a detected person goes to the longest-idle ready agent (or, if the call was reserved,
  to its agent); if no agent takes it within ``connect_deadline`` of the verdict it gets
  the identification message and is counted abandoned;
- the attempt is handed to the lead supply (``started``) before the originate, and its
  outcome (``finished``) after the call's last event.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from agents.state import Agent, AgentEvent, AgentState
from agents.state import apply as agent_apply
from dialer.call_notices import (
    CallAbandoned,
    CallConnected,
    CallFinished,
    CallListener,
    CallNotice,
    CallPlaced,
    CallRouted,
    VerdictReached,
)
from dialer.clock import Clock
from dialer.errors import DialerError, TelephonyError, TelephonyUnavailable
from dialer.ids import AgentId, CallId
from dialer.leads import AttemptOutcome, AttemptResult, DialTarget, LeadSupply
from dialer.settings import CampaignSettings
from pacing.base import (
    DialResolved,
    LiveCallRouted,
    Pacer,
    PacingDecision,
    PacingSnapshot,
    SpellEnded,
)
from telephony.call_state import CallInput, CallState
from telephony.call_state import apply as call_apply
from telephony.events import (
    AmdVerdict,
    CallAnswered,
    CallBridged,
    CallFailed,
    CallHungUp,
    CallRinging,
    FailCause,
)
from telephony.port import Originate, Telephony
from telephony.presence import AgentJoined, AgentPresence, PresenceEvent

log = logging.getLogger("dialer.runner")

_FAIL_OUTCOME = {
    FailCause.BUSY: AttemptOutcome.BUSY,
    FailCause.NO_ANSWER: AttemptOutcome.NO_ANSWER,
    FailCause.CONGESTION: AttemptOutcome.FAILED,
    FailCause.CANCELLED: AttemptOutcome.CANCELLED,
    FailCause.ERROR: AttemptOutcome.FAILED,
}
_VERDICT_OUTCOME = {
    AmdVerdict.MACHINE: AttemptOutcome.MACHINE,
    AmdVerdict.NOT_SURE: AttemptOutcome.NOT_SURE,
    AmdVerdict.HUNG_UP: AttemptOutcome.HUNG_UP_IN_DETECTION,
    AmdVerdict.FAX: AttemptOutcome.FAX,
    AmdVerdict.SIT: AttemptOutcome.SIT,
}


BACKEND_RETRY = 1.0  # seconds without dials after the backend said it is unavailable
_CAN_LEAVE = frozenset({AgentState.READY, AgentState.WRAPUP, AgentState.PAUSED})


class _Call:
    __slots__ = (
        "agent",
        "answered_at",
        "deadline",
        "id",
        "live_at",
        "outcome",
        "placed_at",
        "placed_wall",
        "reserved_for",
        "state",
        "target",
        "verdict",
    )

    def __init__(
        self, call: CallId, target: DialTarget, placed_at: float, reserved_for: AgentId | None
    ) -> None:
        self.id = call
        self.target = target
        self.placed_at = placed_at
        self.placed_wall: datetime | None = None  # set by the runner when it dials
        self.reserved_for = reserved_for
        self.state = CallState.DIALING
        self.agent: AgentId | None = None
        self.verdict: AmdVerdict | None = None
        self.answered_at: float | None = None  # loop time the far end picked up
        self.live_at = 0.0
        self.deadline: asyncio.TimerHandle | None = None
        self.outcome: AttemptOutcome | None = None


@dataclass(slots=True)
class RunnerStats:
    """Counters as the engine sees them (not ground truth: a machine passed as a person
    counts as a live answer here, exactly as it would on a real floor)."""

    dials: int = 0
    live: int = 0
    connected: int = 0
    abandoned: int = 0
    lost: int = 0
    decisions: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # The most recent waits (seconds, verdict -> bridge order); bounded: a runner lives for days.
    connect_waits: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    @property
    def abandon_rate(self) -> float:
        settled = self.connected + self.abandoned
        return self.abandoned / settled if settled else 0.0


AgentListener = Callable[[Agent], None]
DecisionListener = Callable[[PacingSnapshot, PacingDecision], None]


class CampaignRunner:
    def __init__(
        self,
        *,
        settings: CampaignSettings,
        telephony: Telephony,
        leads: LeadSupply,
        pacer: Pacer,
        clock: Clock,
        call_id_prefix: str = "c",
    ) -> None:
        self.settings = settings
        self._tel = telephony
        self._leads = leads
        self._pacer = pacer
        self._clock = clock
        self._prefix = call_id_prefix
        self._seq = 0
        self._no_leads_until: dict[AgentId, float] = {}
        self._calls: dict[CallId, _Call] = {}
        self._agents: dict[AgentId, Agent] = {}
        # Ready and unreserved, in the order they became ready: first = longest idle.
        self._ready: dict[AgentId, None] = {}
        self._talk_since: dict[AgentId, float] = {}
        self._wrap_since: dict[AgentId, float] = {}
        self._pending: dict[CallId, float] = {}  # unreserved calls with no verdict yet
        self._reserved_pending = 0
        self._queue: deque[_Call] = deque()  # detected persons waiting for an agent
        self._with_agent = 0  # calls bridging or connected
        self._lines_busy = 0
        self._paused = 0
        self._offline = 0
        self._leads_exhausted = False
        self._lead_retry_at = 0.0
        self._last_tick = -1e18
        self._wake: asyncio.Future[None] | None = None
        self._tick_due: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._leaving: set[AgentId] = set()  # left their conference mid-call: log out after
        self._backend_back_at = -math.inf  # no dials before this (backend unavailable)
        self._dialling = True
        self.stats = RunnerStats()
        self.last_decision = PacingDecision(0)
        self._agent_listeners: list[AgentListener] = []
        self._decision_listeners: list[DecisionListener] = []
        self._call_listeners: list[CallListener] = []
        self._handlers: dict[type, Callable[[Any], Coroutine[Any, Any, None]]] = {
            CallRinging: self._on_ringing,
            CallAnswered: self._on_answered,
            CallFailed: self._on_failed,
            CallBridged: self._on_bridged,
            CallHungUp: self._on_hung_up,
        }

    # ------------------------------------------------------------------ wiring

    def add_agent_listener(self, listener: AgentListener) -> None:
        """Called after every agent transition (the agent desktop's push channel)."""
        self._agent_listeners.append(listener)

    def add_decision_listener(self, listener: DecisionListener) -> None:
        """Called with every pacing decision and the snapshot behind it (audit log)."""
        self._decision_listeners.append(listener)

    def add_call_listener(self, listener: CallListener) -> None:
        """Called with every ``dialer.call_notices`` notice (metrics, screen-pops)."""
        self._call_listeners.append(listener)

    def _notify(self, notice: CallNotice) -> None:
        for listener in self._call_listeners:
            try:
                listener(notice)
            except Exception:  # an observer never changes what happens to a call
                log.exception("call listener failed on %r", notice)

    def call_target(self, call: CallId) -> DialTarget | None:
        """The lead and number of a call in flight (None once it has ended)."""
        c = self._calls.get(call)
        return None if c is None else c.target

    @property
    def agents(self) -> dict[AgentId, Agent]:
        return self._agents

    @property
    def calls_in_flight(self) -> int:
        return len(self._calls)

    def counts_by_state(self) -> dict[AgentState, int]:
        out = dict.fromkeys(AgentState, 0)
        for a in self._agents.values():
            out[a.state] += 1
        return out

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Consume events and pace until ``stop()``; returns when both loops ended."""
        consumer = asyncio.ensure_future(self._consume())
        pacer = asyncio.ensure_future(self._pace_loop())
        # A backend that sees agents log in through their phones (AMI: the agent's
        # conference) drives logins and logouts; the others need nothing new.
        presence = (
            asyncio.ensure_future(self._consume_presence(self._tel))
            if isinstance(self._tel, AgentPresence)
            else None
        )
        try:
            await asyncio.gather(consumer, pacer)
        finally:
            for t in (consumer, pacer, *self._tasks):
                t.cancel()
            if presence is not None:
                presence.cancel()

    def stop(self) -> None:
        self._stopping = True
        self._poke()

    def stop_dialling(self) -> None:
        """Place no new calls; calls in flight are still routed to agents."""
        self._dialling = False

    def resume_dialling(self) -> None:
        """Dial again after ``stop_dialling`` (a paused campaign resumed)."""
        self._dialling = True
        self._request_tick()

    async def _consume(self) -> None:
        handlers = self._handlers
        async for ev in self._tel.events():
            try:
                await handlers[type(ev)](ev)
            except DialerError:
                log.exception("event %r could not be applied; state left unchanged", ev)
            if self._stopping:
                return

    async def _consume_presence(self, source: AgentPresence) -> None:
        async for ev in source.presence():
            try:
                self.agent_presence(ev)
            except DialerError:
                log.exception("presence %r could not be applied; state left unchanged", ev)
            if self._stopping:
                return

    def agent_presence(self, ev: PresenceEvent) -> None:
        """An agent's phone joined (log in) or left (log out) their conference. An agent
        who leaves during a call is logged out as soon as that call lets go of them."""
        agent = self._agents.get(ev.agent)
        if isinstance(ev, AgentJoined):
            self._leaving.discard(ev.agent)
            if agent is None or agent.state is AgentState.OFFLINE:
                self.login(ev.agent)
            return
        if agent is None or agent.state is AgentState.OFFLINE:
            return
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL):
            self._leaving.add(ev.agent)
            return
        self.logout(ev.agent)

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _pace_loop(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        s = self.settings
        while not self._stopping:
            wake: asyncio.Future[None] = loop.create_future()
            self._wake = wake
            # At least every tick_interval, unless the pacer has said it will not dial
            # before some later time (a large floor decides about once a second).
            when = max(self._last_tick + s.tick_interval, self._pacer.next_decision_at())
            timer = loop.call_at(when, self._poke)
            await wake
            timer.cancel()
            if self._tick_due is not None:
                self._tick_due.cancel()
                self._tick_due = None
            if self._stopping:
                return
            self._last_tick = loop.time()
            await self._step()

    def _request_tick(self) -> None:
        """An event may change the decision: tick now, or at the earliest moment allowed.

        Bursts of events coalesce into one decision every ``min_tick_interval`` at most,
        with a single wake-up scheduled for them (not one per event).
        """
        loop = self._loop
        if self._tick_due is not None or loop is None:
            return  # a wake-up is scheduled, or the runner is not running yet
        earliest = max(
            self._last_tick + self.settings.min_tick_interval, self._pacer.next_decision_at()
        )
        if loop.time() >= earliest:
            self._poke()
        else:
            self._tick_due = loop.call_at(earliest, self._poke)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("telephony order failed: %s", task.exception())

    # ------------------------------------------------------------------ pacing

    def snapshot(self) -> PacingSnapshot:
        now = self._clock.now()
        s = self.settings
        if self._leads_exhausted and now >= self._lead_retry_at:
            self._leads_exhausted = False
        talk = np.fromiter(self._talk_since.values(), np.float64, len(self._talk_since))
        wrap = np.fromiter(self._wrap_since.values(), np.float64, len(self._wrap_since))
        pend = np.fromiter(self._pending.values(), np.float64, len(self._pending))
        lines_free = 1_000_000 if s.max_lines is None else max(0, s.max_lines - self._lines_busy)
        return PacingSnapshot(
            now=now,
            wall=self._clock.wall(now),
            ready_agents=tuple(self._ready),
            talk_elapsed=now - talk,
            wrapup_elapsed=now - wrap,
            reserved_agents=self._reserved_pending,
            paused_agents=self._paused,
            logged_in=len(self._agents) - self._offline,
            pending_ages=now - pend,
            reserved_pending=self._reserved_pending,
            waiting=len(self._queue),
            connected=self._with_agent,
            lines_free=lines_free,
            leads_exhausted=self._leads_exhausted
            or not self._dialling
            or now < self._backend_back_at,
            abandon_target=s.abandon_target,
            connect_deadline=s.connect_deadline,
        )

    async def _step(self) -> None:
        if self._clock.now() < self._pacer.next_decision_at():
            return
        snap = self.snapshot()
        decision = self._pacer.decide(snap)
        self.last_decision = decision
        self.stats.decisions += 1
        for listener in self._decision_listeners:
            listener(snap, decision)
        if decision.dials == 0:
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pacing: %d dials %s", decision.dials, dict(decision.explain))
        wall = snap.wall
        if decision.for_agents:
            await self._dial_reserved(decision.for_agents, wall)
            return
        targets = await self._leads.claim(decision.dials, at=wall)
        if len(targets) < decision.dials:
            self._note_exhausted()
        for target in targets:
            await self._dial(target, reserved_for=None, call_id=self._next_call_id())

    async def _dial_reserved(self, agents: tuple[AgentId, ...], wall: datetime) -> None:
        """Progressive: one call per agent, reserved before its lead is claimed, so the
        agent's desktop knows the call from the start. An agent whose own queue is empty
        is skipped for ``lead_retry_interval``; the others still get their calls."""
        now = self._clock.now()
        placed = tried = 0
        for agent_id in agents:
            agent = self._agents.get(agent_id)
            if agent is None or agent.state is not AgentState.READY:
                continue
            if self._no_leads_until.get(agent_id, -math.inf) > now:
                continue
            tried += 1
            call_id = self._next_call_id()
            self._agent_to(agent_id, AgentEvent.RESERVE, call=call_id)
            self._reserved_pending += 1
            targets = await self._leads.claim(1, at=wall, for_agent=agent_id)
            if not targets:
                self._reserved_pending -= 1
                self._agent_to(agent_id, AgentEvent.RELEASE)
                self._no_leads_until[agent_id] = now + self.settings.lead_retry_interval
                continue
            placed += 1
            await self._dial(targets[0], reserved_for=agent_id, call_id=call_id)
        if tried and not placed:
            self._note_exhausted()

    def _next_call_id(self) -> CallId:
        self._seq += 1
        return CallId(f"{self._prefix}{self._seq}")

    def _note_exhausted(self) -> None:
        self._leads_exhausted = True
        self._lead_retry_at = self._clock.now() + self.settings.lead_retry_interval

    async def _dial(
        self, target: DialTarget, *, reserved_for: AgentId | None, call_id: CallId
    ) -> None:
        now = self._clock.now()
        call = _Call(call_id, target, now, reserved_for)
        self._calls[call_id] = call
        if reserved_for is None:
            self._pending[call_id] = now
        self._lines_busy += 1
        self.stats.dials += 1
        call.placed_wall = self._clock.wall(now)
        await self._leads.started(call_id, target, at=call.placed_wall)
        if self._call_listeners:
            self._notify(CallPlaced(self.settings.campaign, call_id, target, now, reserved_for))
        try:
            # Validation of the number happens here too (Originate refuses anything but
            # E.164 digits): a bad lead fails its own attempt, never the campaign.
            request = Originate(
                call=call_id,
                lead=target.lead,
                number=target.number,
                ring_timeout=self.settings.no_answer_timeout,
                reserved_for=reserved_for,
                variables=self._variables(call_id, target),
            )
            await self._tel.originate(request)
        except TelephonyError as exc:
            log.warning("originate %s refused: %s", call_id, exc)
            if isinstance(exc, TelephonyUnavailable):
                self._backend_back_at = self._clock.now() + BACKEND_RETRY
            await self._on_failed(CallFailed(call_id, self._clock.now(), FailCause.ERROR))

    def _variables(self, call_id: CallId, target: DialTarget) -> dict[str, str]:
        out = {"DIALER_CALL": call_id, "DIALER_LEAD": target.lead}
        if self.settings.amd is not None:  # the campaign's detector (telephony.ami)
            out["DIALER_AMD"] = self.settings.amd
        return out

    # ------------------------------------------------------------------ events

    def _call_to(self, call: _Call, event: CallInput) -> None:
        call.state = call_apply(call.state, event)

    async def _on_ringing(self, ev: CallRinging) -> None:
        call = self._calls.get(ev.call)
        if call is not None and call.state is CallState.DIALING:
            self._call_to(call, CallInput.RANG)

    def _resolved(self, call: _Call, at: float, *, live: bool) -> None:
        if call.reserved_for is None:
            self._pending.pop(call.id, None)
        else:
            self._reserved_pending -= 1
        self._pacer.observe(
            DialResolved(call.placed_at, at, live, reserved=call.reserved_for is not None)
        )

    async def _on_answered(self, ev: CallAnswered) -> None:
        call = self._calls.get(ev.call)
        if call is None or call.state not in (CallState.DIALING, CallState.RINGING):
            return
        call.verdict = ev.verdict
        call.answered_at = ev.answered_at if math.isfinite(ev.answered_at) else ev.at
        live = ev.verdict is AmdVerdict.HUMAN or (
            ev.verdict is AmdVerdict.NOT_SURE and self.settings.not_sure_as_human
        )
        self._resolved(call, ev.at, live=live)
        if self._call_listeners:
            self._notify(VerdictReached(self.settings.campaign, call.id, ev.verdict, live, ev.at))
        if not live:
            self._call_to(call, CallInput.ANSWERED_OTHER)
            call.outcome = _VERDICT_OUTCOME.get(ev.verdict, AttemptOutcome.MACHINE)
            if call.reserved_for is not None:
                self._release_reserved(call)
            if ev.verdict is AmdVerdict.HUNG_UP:
                return  # the far end is gone; its CallHungUp follows
            prompt = self.settings.machine_prompt
            if prompt is not None and ev.verdict is AmdVerdict.MACHINE:
                await self._tel.play_and_hangup(call.id, prompt)
            else:
                await self._tel.hangup(call.id)
            return
        self._call_to(call, CallInput.ANSWERED_LIVE)
        self.stats.live += 1
        call.live_at = ev.at
        if call.reserved_for is not None:
            await self._bridge(call, call.reserved_for)
            return
        if self._ready and not self._queue:
            await self._bridge(call, next(iter(self._ready)))
            return
        self._queue.append(call)
        loop = asyncio.get_running_loop()
        call.deadline = loop.call_at(
            ev.at + self.settings.connect_deadline, self._on_deadline, call
        )

    async def _bridge(self, call: _Call, agent_id: AgentId) -> None:
        self._assign(call, agent_id)
        await self._tel.bridge(call.id, agent_id)

    def _assign(self, call: _Call, agent_id: AgentId) -> None:
        """All state changes of a bridge, synchronously; the caller sends the order."""
        now = self._clock.now()
        self._call_to(call, CallInput.BRIDGE_ORDERED)
        self._agent_to(agent_id, AgentEvent.CONNECT, call=call.id)
        call.agent = agent_id
        self._with_agent += 1
        if call.deadline is not None:
            call.deadline.cancel()
            call.deadline = None
        wait = now - call.live_at
        self.stats.connect_waits.append(wait)
        self._pacer.observe(
            LiveCallRouted(now, abandoned=False, wait=wait, reserved=call.reserved_for is not None)
        )
        if self._call_listeners:
            self._notify(
                CallRouted(self.settings.campaign, call.id, agent_id, call.target, wait, now)
            )

    def _on_deadline(self, call: _Call) -> None:
        call.deadline = None
        if call.state is not CallState.QUEUED:
            return
        self._queue.remove(call)
        self._call_to(call, CallInput.ABANDON_ORDERED)
        call.outcome = AttemptOutcome.ABANDONED
        self.stats.abandoned += 1
        now = self._clock.now()
        self._pacer.observe(LiveCallRouted(now, abandoned=True, wait=now - call.live_at))
        if self._call_listeners:
            self._notify(CallAbandoned(self.settings.campaign, call.id, call.target, now))
        self._spawn(self._tel.play_and_hangup(call.id, self.settings.abandon_prompt))
        self._request_tick()

    async def _on_failed(self, ev: CallFailed) -> None:
        call = self._calls.get(ev.call)
        if call is None:
            return
        if call.state in (CallState.DIALING, CallState.RINGING):
            self._resolved(call, ev.at, live=False)
            if call.reserved_for is not None:
                self._release_reserved(call)
        self._call_to(call, CallInput.FAILED)
        if call.outcome is None:
            call.outcome = _FAIL_OUTCOME[ev.cause]
        await self._finish(call, ev.at)

    async def _on_bridged(self, ev: CallBridged) -> None:
        call = self._calls.get(ev.call)
        if call is None or call.state is not CallState.BRIDGING:
            return
        self._call_to(call, CallInput.BRIDGED)
        self.stats.connected += 1
        call.outcome = AttemptOutcome.CONNECTED
        if self._call_listeners and call.agent is not None:
            self._notify(
                CallConnected(self.settings.campaign, call.id, call.agent, call.target, ev.at)
            )

    async def _on_hung_up(self, ev: CallHungUp) -> None:
        call = self._calls.get(ev.call)
        if call is None:
            return
        state = call.state
        if state in (CallState.DIALING, CallState.RINGING):
            # Answered and gone without a verdict event: treat as hung up in detection.
            self._resolved(call, ev.at, live=False)
            if call.reserved_for is not None:
                self._release_reserved(call)
            call.state = CallState.CLOSING
            call.outcome = AttemptOutcome.HUNG_UP_IN_DETECTION
        elif state is CallState.QUEUED:
            self._queue.remove(call)
            if call.deadline is not None:
                call.deadline.cancel()
            self._lost(call, ev.at)
        elif state is CallState.BRIDGING:
            # The person left before the agent heard them: the agent is free again.
            assert call.agent is not None
            self._with_agent -= 1
            self._agent_to(call.agent, AgentEvent.DROP)
            self._lost(call, ev.at)
            self._offer(call.agent)
        elif state is CallState.CONNECTED:
            assert call.agent is not None
            self._with_agent -= 1
            agent = self._agents[call.agent]
            self._pacer.observe(SpellEnded("talk", ev.at - agent.since, ev.at))
            self._agent_to(call.agent, AgentEvent.HANGUP)
        self._call_to(call, CallInput.HUNG_UP)
        await self._finish(call, ev.at)

    def _lost(self, call: _Call, at: float) -> None:
        call.outcome = AttemptOutcome.LOST
        self.stats.lost += 1
        self._pacer.observe(
            LiveCallRouted(at, abandoned=False, lost=True, reserved=call.reserved_for is not None)
        )

    def _release_reserved(self, call: _Call) -> None:
        agent_id = call.reserved_for
        assert agent_id is not None
        agent = self._agents.get(agent_id)
        if agent is not None and agent.state is AgentState.RESERVED:
            self._agent_to(agent_id, AgentEvent.RELEASE)
            self._offer(agent_id)

    async def _finish(self, call: _Call, at: float) -> None:
        del self._calls[call.id]
        self._lines_busy -= 1
        outcome = call.outcome or AttemptOutcome.FAILED
        self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        result = AttemptResult(
            call=call.id,
            target=call.target,
            outcome=outcome,
            placed_at=call.placed_wall or self._clock.wall(call.placed_at),
            ended_at=self._clock.wall(at),
            answered_at=None if call.answered_at is None else self._clock.wall(call.answered_at),
            agent=call.agent,
            amd_verdict=None if call.verdict is None else call.verdict.value,
        )
        await self._leads.finished(result)
        if self._call_listeners:
            self._notify(CallFinished(self.settings.campaign, result, at))
        self._request_tick()

    # ------------------------------------------------------------------ agents

    def _agent_to(
        self,
        agent_id: AgentId,
        event: AgentEvent,
        *,
        call: CallId | None = None,
        reason: str | None = None,
    ) -> Agent:
        old = self._agents[agent_id]
        now = self._clock.now()
        new = agent_apply(old, event, now=now, call=call, reason=reason)
        self._agents[agent_id] = new
        self._leave(old)
        self._enter(new, now)
        for listener in self._agent_listeners:
            listener(new)
        if self._leaving and agent_id in self._leaving and new.state in _CAN_LEAVE:
            self._leaving.discard(agent_id)
            return self._agent_to(agent_id, AgentEvent.LOGOUT)
        return new

    def _leave(self, agent: Agent) -> None:
        st = agent.state
        if st is AgentState.READY:
            del self._ready[agent.id]
        elif st is AgentState.ON_CALL:
            del self._talk_since[agent.id]
        elif st is AgentState.WRAPUP:
            del self._wrap_since[agent.id]
        elif st is AgentState.PAUSED:
            self._paused -= 1
        elif st is AgentState.OFFLINE:
            self._offline -= 1

    def _enter(self, agent: Agent, now: float) -> None:
        st = agent.state
        if st is AgentState.READY:
            self._ready[agent.id] = None
        elif st is AgentState.ON_CALL:
            self._talk_since[agent.id] = now
        elif st is AgentState.WRAPUP:
            self._wrap_since[agent.id] = now
        elif st is AgentState.PAUSED:
            self._paused += 1
        elif st is AgentState.OFFLINE:
            self._offline += 1

    def _offer(self, agent_id: AgentId) -> None:
        """A ready agent takes the oldest waiting person, if any; else the pacer may dial."""
        agent = self._agents[agent_id]
        if agent.state is AgentState.READY and self._queue:
            call = self._queue.popleft()
            self._assign(call, agent_id)
            self._spawn(self._tel.bridge(call.id, agent_id))
        self._request_tick()

    def login(self, agent_id: AgentId) -> None:
        if agent_id not in self._agents:
            self._agents[agent_id] = Agent(agent_id, AgentState.OFFLINE, self._clock.now())
            self._offline += 1
        self._agent_to(agent_id, AgentEvent.LOGIN)
        self._offer(agent_id)

    def logout(self, agent_id: AgentId) -> None:
        agent = self._require(agent_id)
        if agent.state is AgentState.WRAPUP:
            self._wrapup_ended(agent)
        self._agent_to(agent_id, AgentEvent.LOGOUT)

    def pause(self, agent_id: AgentId, reason: str) -> None:
        agent = self._require(agent_id)
        if agent.state is AgentState.WRAPUP:
            self._wrapup_ended(agent)
        self._agent_to(agent_id, AgentEvent.PAUSE, reason=reason)

    def resume(self, agent_id: AgentId) -> None:
        self._require(agent_id)
        self._agent_to(agent_id, AgentEvent.RESUME)
        self._offer(agent_id)

    def finish_wrapup(self, agent_id: AgentId) -> None:
        """After-call work is done (the disposition is set): the agent is ready again."""
        agent = self._require(agent_id)
        self._wrapup_ended(agent)
        self._agent_to(agent_id, AgentEvent.FINISH)
        self._offer(agent_id)

    def _wrapup_ended(self, agent: Agent) -> None:
        if agent.state is AgentState.WRAPUP:
            now = self._clock.now()
            self._pacer.observe(SpellEnded("wrapup", now - agent.since, now))

    def _require(self, agent_id: AgentId) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise DialerError(f"unknown agent {agent_id!r}")
        return agent
