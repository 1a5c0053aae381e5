"""A scripted telephony backend: the public test double of ``telephony.port.Telephony``.

Like httpcore's mock backend, it lets anyone test code that drives the port (the
campaign runner first) without a PBX and without randomness: every originated call
follows a ``Script`` (its fate and its delays, in seconds), chosen per phone number or
by a default (a ``Script`` or a factory called with the ``Originate``). It runs on an
asyncio loop and schedules its events with ``loop.call_at``, so on
``simulator.loop.VirtualTimeLoop`` a test controls time exactly.

Every order received is recorded in ``orders`` with ``loop.time()``; every event put
on the stream is recorded in ``emitted`` and passed to the listeners (``add_listener``).

Per call, from the originate at ``t``:

- ``busy`` / ``failed``: ``CallFailed(BUSY | CONGESTION)`` at ``t + ring``;
- ``no_answer`` (or a ``human``/``machine`` whose ``ring`` exceeds the request's
  ``ring_timeout``): ``CallFailed(NO_ANSWER)`` at ``t + ring_timeout``;
- ``refused``: ``originate`` raises ``TelephonyError`` (the order is still recorded);
- ``human`` / ``machine``: answered at ``t + ring``, verdict at ``+ decision``
  (``HUMAN`` for a person, ``MACHINE`` for a machine, unless ``verdict`` overrides;
  an overriding ``HUNG_UP`` is followed at once by ``CallHungUp(REMOTE)``).
  A person's ``patience`` counts from the answer: if it runs out before the verdict the
  verdict is ``HUNG_UP`` and the line drops; if it runs out before an agent hears them
  (``bridge_delay`` after the bridge order), ``CallHungUp(REMOTE)``. A heard person
  hangs up ``talk`` seconds later (``REMOTE``); a heard machine is hung up by the agent
  after ``talk`` (``AGENT``). A machine nobody bridges waits for the engine's order;
- ``play_and_hangup``: ``CallHungUp(ENGINE)`` ``prompt`` seconds later (before the
  verdict there is nobody to play to: a plain ``hangup``);
- ``hangup``: at once, ``CallFailed(CANCELLED)`` before the answer, else
  ``CallHungUp(ENGINE)``, preceded by ``CallAnswered(HUNG_UP)`` if detection was still
  running (so a call never hangs up without its answer event).

CallRinging is emitted ``ringing`` seconds after the originate when that comes before
the call's answer or end. Orders for unknown or ended calls are recorded and ignored.
Invariant (``telephony.events``): no event for a call after its last event.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from dialer.errors import TelephonyError
from dialer.ids import AgentId, CallId
from telephony.events import (
    AmdVerdict,
    CallAnswered,
    CallBridged,
    CallEvent,
    CallFailed,
    CallHungUp,
    CallRinging,
    FailCause,
    HangupSide,
)
from telephony.port import Originate
from telephony.stream import EventStream

Fate = Literal["human", "machine", "busy", "no_answer", "failed", "refused"]
FATES: tuple[Fate, ...] = ("human", "machine", "busy", "no_answer", "failed", "refused")
OrderKind = Literal["originate", "bridge", "play_and_hangup", "hangup"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """What happens to one call. Times in seconds, all >= 0 (``patience`` may be inf).

    ``ring``: originate -> answer (human, machine) or -> the busy/failed signal.
    ``decision``: answer -> AMD verdict. ``talk``: heard -> hang-up. ``patience``: a
    person's wait from the answer before hanging up unheard. ``verdict``: overrides the
    detector (``None``: right answer). ``bridge_delay``: bridge order -> heard.
    ``prompt``: a played message's length. ``ringing``: originate -> ``CallRinging``
    (``None``: never emitted).
    """

    fate: Fate = "human"
    ring: float = 5.0
    decision: float = 1.0
    talk: float = 60.0
    patience: float = math.inf
    verdict: AmdVerdict | None = None
    bridge_delay: float = 0.2
    prompt: float = 4.0
    ringing: float | None = 0.5

    def __post_init__(self) -> None:
        if self.fate not in FATES:
            raise ValueError(f"unknown fate {self.fate!r}; expected one of {', '.join(FATES)}")
        for name in ("ring", "decision", "talk", "bridge_delay", "prompt"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite seconds >= 0, got {value!r}")
        if math.isnan(self.patience) or self.patience < 0:
            raise ValueError(f"patience must be seconds >= 0 or inf, got {self.patience!r}")
        if self.ringing is not None and not (math.isfinite(self.ringing) and self.ringing >= 0):
            raise ValueError(f"ringing must be finite seconds >= 0, got {self.ringing!r}")


@dataclass(frozen=True, slots=True)
class Order:
    """One order the backend received, at ``at`` (``loop.time()``)."""

    kind: OrderKind
    call: CallId
    at: float
    request: Originate | None = None  # originate
    agent: AgentId | None = None  # bridge
    prompt: str | None = None  # play_and_hangup


class _Call:
    __slots__ = (
        "agent",
        "answered_at",
        "done",
        "heard",
        "id",
        "patience_end",
        "script",
        "timers",
        "verdict",
    )

    def __init__(self, call: CallId, script: Script) -> None:
        self.id = call
        self.script = script
        self.answered_at = math.inf  # loop time of the answer; inf: never answered
        self.patience_end = math.inf  # loop time a person hangs up unheard
        self.verdict: AmdVerdict | None = None  # set once the verdict event is emitted
        self.agent: AgentId | None = None
        self.heard = False
        self.done = False
        self.timers: list[asyncio.TimerHandle] = []


ScriptSource = Script | Callable[[Originate], Script]


class ScriptedTelephony:
    """Implements ``telephony.port.Telephony`` by following per-call scripts.

    ``scripts`` maps E.164 digits (``Originate.number``) to a script; other numbers get
    ``default`` (a script, or a factory called with the ``Originate``). ``loop`` defaults
    to the running loop at the first order.
    """

    def __init__(
        self,
        *,
        scripts: Mapping[str, Script] | None = None,
        default: ScriptSource = Script(),  # frozen, so sharing one is safe
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._scripts = dict(scripts or {})
        self._default = default
        self._given_loop = loop
        self._calls: dict[CallId, _Call] = {}
        self._stream: EventStream[CallEvent] = EventStream()
        self.orders: list[Order] = []
        self.emitted: list[CallEvent] = []
        self.max_active = 0  # most calls alive at once (originated, last event not yet out)
        self._listeners: list[Callable[[CallEvent], None]] = []

    # ------------------------------------------------------------------ inspection

    def add_listener(self, listener: Callable[[CallEvent], None]) -> None:
        """Call ``listener`` with every event as it is emitted, before the consumer sees
        it (a test can react to "the verdict is in" at that very instant)."""
        self._listeners.append(listener)

    def orders_of(self, kind: OrderKind) -> list[Order]:
        return [o for o in self.orders if o.kind == kind]

    @property
    def originated(self) -> list[Originate]:
        """The requests of every originate order, refused ones included."""
        return [o.request for o in self.orders if o.request is not None]

    @property
    def active(self) -> int:
        """Calls alive now: originated and accepted, last event not yet emitted."""
        return len(self._calls)

    def script_for(self, request: Originate) -> Script:
        script = self._scripts.get(request.number)
        if script is not None:
            return script
        default = self._default
        return default if isinstance(default, Script) else default(request)

    # ------------------------------------------------------------------ helpers

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._given_loop is None:
            self._given_loop = asyncio.get_running_loop()
        return self._given_loop

    def _now(self) -> float:
        return self._loop().time()

    def _record(self, order: Order) -> None:
        self.orders.append(order)

    def _at(self, when: float, call: _Call, fn: Callable[[], None]) -> None:
        call.timers.append(self._loop().call_at(when, fn))

    def _cancel_timers(self, call: _Call) -> None:
        for handle in call.timers:
            handle.cancel()
        call.timers.clear()

    def _put(self, event: CallEvent) -> None:
        self.emitted.append(event)
        self._stream.put(event)
        for listener in self._listeners:
            listener(event)

    def _emit(self, call: _Call, event: CallEvent) -> None:
        """Emit ``event``; a CallFailed/CallHungUp is the call's last one."""
        if call.done:
            return
        if isinstance(event, CallFailed | CallHungUp):
            call.done = True
            self._cancel_timers(call)
            del self._calls[call.id]
        self._put(event)

    def _emit_at(self, when: float, call: _Call, make: Callable[[], CallEvent]) -> None:
        self._at(when, call, lambda: self._emit(call, make()))

    # ------------------------------------------------------------------ the port

    async def originate(self, request: Originate) -> None:
        now = self._now()
        self._record(Order("originate", request.call, now, request=request))
        script = self.script_for(request)
        if script.fate == "refused":
            raise TelephonyError(f"originate refused by script for {request.number}")
        if request.call in self._calls:
            raise TelephonyError(f"call id {request.call!r} is already in use")
        call = _Call(request.call, script)
        self._calls[call.id] = call
        self.max_active = max(self.max_active, len(self._calls))
        cid = call.id
        fate = script.fate
        answers = fate in ("human", "machine") and script.ring <= request.ring_timeout
        if fate == "busy":
            end, cause = now + script.ring, FailCause.BUSY
        elif fate == "failed":
            end, cause = now + script.ring, FailCause.CONGESTION
        elif not answers:
            end, cause = now + request.ring_timeout, FailCause.NO_ANSWER
        else:
            end, cause = now + script.ring, None
        if script.ringing is not None and now + script.ringing < end:
            rang = now + script.ringing
            self._emit_at(rang, call, lambda: CallRinging(cid, rang))
        if cause is not None:
            failed = cause
            self._emit_at(end, call, lambda: CallFailed(cid, end, failed))
            return
        answered = end
        decided = answered + script.decision
        call.answered_at = answered
        if fate == "human":
            call.patience_end = answered + script.patience
            if call.patience_end < decided:
                self._at(call.patience_end, call, lambda: self._patience_out(call))
                return
            verdict = script.verdict or AmdVerdict.HUMAN
        else:
            verdict = script.verdict or AmdVerdict.MACHINE
        self._at(decided, call, lambda: self._decide(call, verdict, decided))
        if math.isfinite(call.patience_end):
            self._at(call.patience_end, call, lambda: self._patience_out(call))

    def _decide(self, call: _Call, verdict: AmdVerdict, at: float) -> None:
        call.verdict = verdict
        self._emit(call, CallAnswered(call.id, at, verdict, call.answered_at))
        if verdict is AmdVerdict.HUNG_UP:  # the far end is gone: the line drops too
            self._emit(call, CallHungUp(call.id, at, HangupSide.REMOTE))

    def _patience_out(self, call: _Call) -> None:
        """A person waited unheard longer than their patience and hung up."""
        if call.done or call.heard:
            return
        # Never before the answer, even when the loop runs this timer up to its clock
        # resolution early (a patience of 0 with an answer a few ulps after now).
        now = max(self._now(), call.answered_at)
        if call.verdict is None:
            # Gone before the verdict: detection reports the hang-up, then the line drops.
            call.verdict = AmdVerdict.HUNG_UP
            self._put(CallAnswered(call.id, now, AmdVerdict.HUNG_UP, call.answered_at))
        self._emit(call, CallHungUp(call.id, now, HangupSide.REMOTE))

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        now = self._now()
        self._record(Order("bridge", call, now, agent=agent))
        c = self._calls.get(call)
        if c is None or c.verdict is None or c.agent is not None:
            return
        heard = now + c.script.bridge_delay
        if c.patience_end <= heard:
            return  # the person's hang-up comes first: they are never heard
        c.agent = agent
        self._cancel_timers(c)  # the patience hang-up no longer applies
        # One timer for the bridge and what follows: asyncio does not order timers due
        # at the same instant, and CallBridged must precede the hang-up (talk may be 0).
        self._at(heard, c, lambda: self._heard(c, agent, heard))

    def _heard(self, call: _Call, agent: AgentId, heard: float) -> None:
        call.heard = True
        self._emit(call, CallBridged(call.id, heard, agent))
        end = heard + call.script.talk
        side = HangupSide.REMOTE if call.script.fate == "human" else HangupSide.AGENT
        self._emit_at(end, call, lambda: CallHungUp(call.id, end, side))

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        now = self._now()
        self._record(Order("play_and_hangup", call, now, prompt=prompt))
        c = self._calls.get(call)
        if c is None:
            return
        if c.verdict is None:  # nobody to play to yet: the same as a plain hang-up
            self._close_now(c, HangupSide.ENGINE)
            return
        self._cancel_timers(c)
        end = now + c.script.prompt
        c.heard = True  # the person listens to the message: patience no longer applies
        self._emit_at(end, c, lambda: CallHungUp(call, end, HangupSide.ENGINE))

    async def hangup(self, call: CallId) -> None:
        now = self._now()
        self._record(Order("hangup", call, now))
        c = self._calls.get(call)
        if c is not None:
            self._close_now(c, HangupSide.ENGINE)

    def _close_now(self, c: _Call, side: HangupSide) -> None:
        """End the call now. Before the answer: ``CallFailed`` (``CANCELLED`` by us,
        ``NO_ANSWER`` by them); during detection, the detector reports ``HUNG_UP`` first
        (as Asterisk's AMD() sets ``AMDSTATUS=HANGUP``), so the port's order holds."""
        now = self._now()
        # The verdict already out means the answer is too, even if the loop ran that timer
        # up to its clock resolution early (asyncio runs timers due within it at once).
        if c.verdict is None and now < c.answered_at:
            cause = FailCause.CANCELLED if side is HangupSide.ENGINE else FailCause.NO_ANSWER
            self._emit(c, CallFailed(c.id, now, cause))
            return
        now = max(now, c.answered_at)  # see _patience_out: never before the answer
        if c.verdict is None:
            c.verdict = AmdVerdict.HUNG_UP
            self._put(CallAnswered(c.id, now, AmdVerdict.HUNG_UP, c.answered_at))
        self._emit(c, CallHungUp(c.id, now, side))

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream

    # ------------------------------------------------------------------ test controls

    def remote_hangup(self, call: CallId) -> None:
        """The far end hangs up now (before the answer: a ``CallFailed(NO_ANSWER)``)."""
        c = self._calls.get(call)
        if c is not None:
            self._close_now(c, HangupSide.REMOTE)

    def close(self) -> None:
        """Cancel every pending event and end the stream."""
        for c in self._calls.values():
            self._cancel_timers(c)
        self._calls.clear()
        self._stream.close()
