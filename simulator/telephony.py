"""The simulated PBX: the telephony port on the scenario's traffic model.

Model semantics are those of ``../shared/SCENARIOS.md`` ("so that two independent
simulators agree"):

- a dial's fate is drawn at dial time from the profile values in force then; human and
  machine answers come after the ``ring`` delay, or are ``no_answer`` at the timeout
  when that delay exceeds it; busy and failed end after ``busy_after``/``failed_after``;
- detection decides ``decision`` seconds after the answer; a person's ``patience``
  counts from the answer: if it runs out before the decision, or before an agent hears
  them, the person has hung up (``lost_in_detection``); otherwise a person is called a
  machine with probability ``human_as_machine`` and a machine a person with probability
  ``machine_as_human``;
- an agent hears the person ``bridge_delay`` after the bridge order; a bridged person
  talks for ``talk``; a bridged machine holds the agent for ``machine_hold``.

Times in the ledger are seconds since the start of the shift.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from enum import IntEnum

import numpy as np

from dialer.ids import AgentId, CallId
from simulator.ledger import Ledger
from simulator.scenario import Scenario
from telephony.events import (
    AmdVerdict,
    CallAnswered,
    CallBridged,
    CallEvent,
    CallFailed,
    CallHungUp,
    FailCause,
    HangupSide,
)
from telephony.port import Originate
from telephony.stream import EventStream

PROMPT_SECONDS = 4.0  # how long the identification / machine message keeps the line


class Fate(IntEnum):
    HUMAN = 0
    MACHINE = 1
    BUSY = 2
    FAILED = 3
    NO_ANSWER = 4


class _SimCall:
    __slots__ = (
        "agent",
        "answered_at",
        "decided_at",
        "done",
        "fate",
        "heard",
        "id",
        "patience_end",
        "timers",
        "verdict",
    )

    def __init__(self, call: CallId, fate: Fate) -> None:
        self.id = call
        self.fate = fate
        self.answered_at = -1.0  # -1: not answered (yet)
        self.decided_at = -1.0
        self.patience_end = float("inf")
        self.verdict: AmdVerdict | None = None
        self.agent: AgentId | None = None
        self.heard = False
        self.done = False
        self.timers: list[asyncio.TimerHandle] = []


class SimTelephony:
    """Implements ``telephony.port.Telephony`` on synthetic traffic."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        rng: np.random.Generator,
        ledger: Ledger,
        loop: asyncio.AbstractEventLoop,
        t0: float,
    ) -> None:
        self._sc = scenario
        self._rng = rng
        self._ledger = ledger
        self._loop = loop
        self._t0 = t0
        self._calls: dict[CallId, _SimCall] = {}
        self._stream: EventStream[CallEvent] = EventStream()
        # Ground truth the simulated agents need: was the call an agent took a machine?
        self.machine_calls: set[CallId] = set()
        tr, amd = scenario.traffic, scenario.amd
        self._ring, self._patience = tr.ring, tr.patience
        self._decision, self._hold = amd.decision, amd.machine_hold
        self._talk = scenario.agents.talk
        self._ham, self._mah = amd.human_as_machine, amd.machine_as_human
        self._bridge_delay = scenario.campaign.bridge_delay

    # ------------------------------------------------------------------ helpers

    def _at(self, t: float, call: _SimCall, event: CallEvent) -> None:
        call.timers.append(self._loop.call_at(self._t0 + t, self._emit, call, event))

    def _emit(self, call: _SimCall, event: CallEvent) -> None:
        if isinstance(event, (CallFailed, CallHungUp)):
            if call.done:
                return
            self._end(call)
        self._stream.put(event)

    def _end(self, call: _SimCall) -> None:
        call.done = True
        for h in call.timers:
            h.cancel()
        call.timers.clear()
        del self._calls[call.id]

    def _draw_fate(self, t: float) -> Fate:
        tr = self._sc.traffic
        u = self._rng.random()
        edge = tr.human.value_at(t)
        if u < edge:
            return Fate.HUMAN
        edge += tr.machine.value_at(t)
        if u < edge:
            return Fate.MACHINE
        edge += tr.busy
        if u < edge:
            return Fate.BUSY
        edge += tr.failed
        if u < edge:
            return Fate.FAILED
        return Fate.NO_ANSWER

    # ------------------------------------------------------------------ the port

    async def originate(self, request: Originate) -> None:
        t = self._loop.time() - self._t0
        led, rng = self._ledger, self._rng
        led.dials += 1
        fate = self._draw_fate(t)
        call = _SimCall(request.call, fate)
        self._calls[request.call] = call
        cid = request.call
        if fate is Fate.BUSY:
            led.busy += 1
            end = t + self._sc.traffic.busy_after.sample(rng)
            self._at(end, call, _failed(cid, FailCause.BUSY, self._t0 + end))
            return
        if fate is Fate.FAILED:
            led.failed += 1
            end = t + self._sc.traffic.failed_after.sample(rng)
            self._at(end, call, _failed(cid, FailCause.CONGESTION, self._t0 + end))
            return
        if fate is Fate.NO_ANSWER:
            led.no_answer += 1
            end = t + request.ring_timeout
            self._at(end, call, _failed(cid, FailCause.NO_ANSWER, self._t0 + end))
            return
        ring = self._ring.sample(rng)
        if ring > request.ring_timeout:
            call.fate = Fate.NO_ANSWER
            led.no_answer += 1
            end = t + request.ring_timeout
            self._at(end, call, _failed(cid, FailCause.NO_ANSWER, self._t0 + end))
            return
        answered = t + ring
        decided = answered + self._decision.sample(rng)
        call.answered_at = answered
        if fate is Fate.HUMAN:
            led.answered_human += 1
            patience_end = answered + self._patience.sample(rng)
            call.patience_end = patience_end
            if patience_end < decided:
                # Gone before the verdict: detection reports the hang-up, then the line drops.
                call.timers.append(
                    self._loop.call_at(self._t0 + patience_end, self._patience_out, call)
                )
                return
            verdict = AmdVerdict.MACHINE if rng.random() < self._ham else AmdVerdict.HUMAN
            if verdict is AmdVerdict.MACHINE:
                led.amd_false_machine += 1
            else:
                # The person hangs up when their patience runs out, unless heard by then.
                call.timers.append(
                    self._loop.call_at(self._t0 + patience_end, self._patience_out, call)
                )
        else:
            led.answered_machine += 1
            verdict = AmdVerdict.HUMAN if rng.random() < self._mah else AmdVerdict.MACHINE
        call.decided_at = decided
        call.verdict = verdict
        self._at(decided, call, CallAnswered(cid, self._t0 + decided, verdict, self._t0 + answered))

    def _patience_out(self, c: _SimCall) -> None:
        """A person waited in silence longer than their patience and hung up."""
        if c.done or c.heard:
            return
        self._ledger.lost_in_detection += 1
        now = self._loop.time()
        if c.verdict is None:
            self._stream.put(CallAnswered(c.id, now, AmdVerdict.HUNG_UP, self._t0 + c.answered_at))
        self._end(c)
        self._stream.put(_hungup(c.id, now))

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        c = self._calls.get(call)
        if c is None or c.done or c.agent is not None:
            return
        t = self._loop.time() - self._t0
        heard = t + self._bridge_delay
        if c.patience_end <= heard:
            return  # the person's hang-up timer fires first: lost before an agent heard them
        c.agent = agent
        for h in c.timers:  # the patience hang-up no longer applies
            h.cancel()
        c.timers.clear()
        self._at(heard, c, CallBridged(call, self._t0 + heard, agent))
        self._loop.call_at(self._t0 + heard, self._heard, c, heard)

    def _heard(self, c: _SimCall, heard: float) -> None:
        if c.done:
            return
        c.heard = True
        assert c.agent is not None
        if c.fate is Fate.HUMAN:
            self._ledger.bridged(c.decided_at, heard - c.answered_at)
            end = heard + self._talk.sample(self._rng)
            self._ledger.talked(c.agent, heard, end)
            self._at(end, c, _hungup(c.id, self._t0 + end, HangupSide.REMOTE))
        else:
            self.machine_calls.add(c.id)
            self._ledger.bridged(c.decided_at, None)
            end = heard + self._hold.sample(self._rng)
            self._ledger.held(c.agent, heard, end)
            self._at(end, c, _hungup(c.id, self._t0 + end, HangupSide.AGENT))

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        c = self._calls.get(call)
        if c is None or c.done:
            return
        t = self._loop.time() - self._t0
        if c.verdict is AmdVerdict.HUMAN and c.agent is None:
            self._ledger.abandon(c.decided_at, person=c.fate is Fate.HUMAN)
        for h in c.timers:
            h.cancel()
        c.timers.clear()
        end = t + PROMPT_SECONDS
        self._at(end, c, _hungup(call, self._t0 + end, HangupSide.ENGINE))

    async def hangup(self, call: CallId) -> None:
        c = self._calls.get(call)
        if c is None or c.done:
            return
        now = self._loop.time()
        answered = c.answered_at >= 0 and now - self._t0 >= c.answered_at
        self._end(c)
        if answered:
            self._stream.put(_hungup(call, now, HangupSide.ENGINE))
        else:
            self._stream.put(_failed(call, FailCause.CANCELLED, now))

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream


def _failed(call: CallId, cause: FailCause, at: float) -> CallFailed:
    return CallFailed(call, at, cause)


def _hungup(call: CallId, at: float, side: HangupSide = HangupSide.REMOTE) -> CallHungUp:
    return CallHungUp(call, at, side)
