"""The emulated PBX's state: calls, channels, conferences, the dialplan roles, timers.

It reproduces the harness of ``shared/fixtures/asterisk-ami/config/extensions.conf``
(and ``extensions_audiosocket_conf.conf``) without executing a dialplan: each context
role in ``DialplanConfig`` is a small script of timers that emits the events the real
Asterisk emitted for it, in one of the orders the captures show (the README says
which orders vary between runs; nothing here depends on them being stable).

Roles (names configurable, defaults = the captured config):

- ``amd_context`` (``dialer-outbound``): ``AMD()``, ``VarSet AMDSTATUS/AMDCAUSE``,
  ``UserEvent AMDResult``; then MACHINE hangs up (or, with ``LEAVE_VM=1``, waits for the
  beep and plays the machine message); HUMAN/NOTSURE either ``Dial(Local/${AGENT}@agents)``
  or, with ``ENGINE_ROUTING=1`` (or ``engine_routing=True``), waits ``hold`` seconds for
  the engine's Redirect and then goes to the abandon extension.
- ``audiosocket_context`` (``dialer-as``): ``UserEvent AudioSocketDone`` after the
  script's ``amd_delay``, ``Wait(${HOLD}|2)``, ``UserEvent HoldExpired``, hang up.
- ``route_context`` (``dialer-route``): ``abandon`` (``UserEvent Abandoned``, the
  abandon prompt, hang up), ``machine_message_exten`` (wait for the beep, the machine
  prompt, hang up) or an agent name (``Dial`` that agent).
- ``conference_context`` (``dialer-conf``): ``ConfBridge(agent-<exten>)`` as a customer.
- ``login_context`` (``agent-login``): ``UserEvent AgentLogin`` then ``ConfBridge``.

Timers are ``loop.call_later`` handles (no task per call): the adapter benchmark keeps
2,000 calls in flight and 1,500 originates/s on one core.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator import ami_events as ev
from simulator.ami_events import Bridge, Channel
from simulator.ami_scripts import CallScript

if TYPE_CHECKING:  # the audio modules load numpy/scipy and the detector: only when used
    from simulator.ami_audio import CallAudio
    from simulator.ami_audiosocket import StreamRecord

Sink = Callable[[str, str], None]  # (event class, block text)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanConfig:
    """The dialplan the emulator plays, by role. Seconds are modelled time.

    ``hold``: how long a detected person waits for the engine's Redirect before the
    abandon extension (the captured ``Wait(2)``). ``abandon_prompt``/``machine_prompt``:
    how long the identification message and the machine message play (5.509 s and
    6.063 s in the captures). ``engine_routing``: behave as if every call carried
    ``ENGINE_ROUTING=1`` (our production dialplan), and also hold a MACHINE verdict for
    ``hold`` seconds so the engine can hang it up or Redirect it to the machine message.
    """

    amd_context: str = "dialer-outbound"
    audiosocket_context: str = "dialer-as"
    route_context: str = "dialer-route"
    abandon_exten: str = "abandon"
    machine_message_exten: str = "machine-message"
    conference_context: str = "dialer-conf"
    conference_prefix: str = "agent-"
    login_context: str = "agent-login"
    agents_context: str = "agents"
    lead_var: str = "LEADID"
    call_var: str = "CALLID"
    default_agent: str = "agent1"
    hold: float = 2.0
    abandon_prompt: float = 5.509
    machine_prompt: float = 6.063
    engine_routing: bool = False
    # Options that follow our production dialplan (asterisk/extensions_dialer.conf of
    # the ami branch) where it differs from the captured harness; all off by default.
    engine_exten: str = "engine"  # amd_context exten: TryExec(AudioSocket) then AMD()
    # ``DIALER_AS_SERVER`` in [globals]: where the engine extension's AudioSocket() connects
    # (a call's own DIALER_AS_SERVER variable wins). Only used when the emulator has audio.
    audiosocket_server: str = "127.0.0.1:9092"
    hangup_handler: bool = False  # UserEvent DialerHangup before every ;1 Hangup
    conference_guard: bool = False  # no agent in the room: UserEvent NoAgent, abandon
    end_marked: bool = False  # the agent leaves: its customers are put out (ENDMARKED)

    @classmethod
    def dialer_dialplan(cls, **overrides: Any) -> DialplanConfig:
        """Our production dialplan (extensions_dialer.conf): the engine routes every
        decided call within ``DIALER_HOLD`` (3 s), hangup handler, conference guard,
        customers ``end_marked``, agents log in through ``dialer-agent-login``."""
        base: dict[str, Any] = {
            "engine_routing": True,
            "hold": 3.0,
            "hangup_handler": True,
            "conference_guard": True,
            "end_marked": True,
            "login_context": "dialer-agent-login",
        }
        return cls(**(base | overrides))

    def __post_init__(self) -> None:
        parse_server(self.audiosocket_server)  # ValueError naming the field
        for name in ("hold", "abandon_prompt", "machine_prompt"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"DialplanConfig.{name} must be >= 0 seconds, got {value!r}")


def parse_server(text: str) -> tuple[str, int]:
    """``host:port`` (AudioSocket()'s second argument) -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"DialplanConfig.audiosocket_server / DIALER_AS_SERVER must be host:port, got {text!r}"
        )
    return host, int(port)


class Call:
    """One originated call: the ``;1`` dialer leg, the ``;2`` far end (``None`` for a
    trunk channel, which has a single leg), and where it is in the dialplan."""

    __slots__ = (
        "action_id",
        "agent",
        "agent_legs",
        "answered_at",
        "callee_timer",
        "conference",
        "connected",
        "dial_string",
        "done",
        "handler",
        "id",
        "in_amd",
        "location",
        "one",
        "plan_timers",
        "report",
        "reported_uid",
        "resume",
        "script",
        "two",
        "verdict",
    )

    def __init__(self, cid: int, one: Channel, two: Channel | None, script: CallScript) -> None:
        self.id = cid
        self.one = one
        self.two = two
        self.script = script
        self.action_id: str | None = None
        self.report = True  # send OriginateResponse (False: an agent login made by the API)
        self.reported_uid: str | None = None  # the Originate's ChannelId, if any
        self.agent: str | None = None  # set on an agent's login call
        self.dial_string = ""
        self.location: list[tuple[str, str]] = []
        self.answered_at = -1.0
        self.callee_timer: asyncio.TimerHandle | None = None
        # Dialplan timers, and the AudioSocket stream task while one runs: all cancelled
        # when the channel leaves its dialplan (hangup, Redirect).
        self.plan_timers: list[asyncio.TimerHandle | asyncio.Task[Any]] = []
        # What runs when a Wait() is cut short (the dialplan's next priority).
        self.resume: Callable[[], None] | None = None
        self.agent_legs: tuple[Channel, Channel] | None = None
        self.conference: str | None = None
        self.connected = False
        self.in_amd = False
        self.handler = False  # a hangup handler was pushed (DialplanConfig.hangup_handler)
        self.verdict: str | None = None
        self.done = False

    @property
    def answered(self) -> bool:
        return self.answered_at >= 0


class PbxCore:
    """Registry of live calls, channels and conferences; emits events through ``sink``.

    The call flows themselves are in ``simulator.ami_flows.Pbx``, which extends this.

    ``wants(cls)`` tells whether any AMI session receives class ``cls``: events of a
    class nobody listens to (typically ``dialplan``) are not even formatted.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Sink,
        wants: Callable[[str], bool],
        *,
        dialplan: DialplanConfig,
        time_scale: float,
        clock: Callable[[], float],
        order_seed: int | None = None,
    ) -> None:
        self.loop = loop
        self.sink = sink
        self.wants = wants
        self.plan = dialplan
        self.scale = time_scale
        self.clock = clock  # wall-clock epoch seconds, for uniqueids
        # Seeded shuffling of the events whose real order varies; None: a fixed order.
        self.order_rng = None if order_seed is None else random.Random(order_seed)
        self.calls: dict[int, Call] = {}
        self.by_name: dict[str, Channel] = {}
        self.by_uid: dict[str, Channel] = {}
        self.call_of: dict[str, Call] = {}  # channel name -> call (both legs)
        self.conferences: dict[str, Bridge] = {}
        self.agents: dict[str, Call] = {}  # agent exten -> its login call
        # AudioSocket audio (simulator.ami_audio.CallAudio); None: the engine extension's
        # AudioSocket() fails at once, as if no server listened.
        self.audio: CallAudio | None = None
        self.audio_idle_timeout = 2.0  # wall seconds without frames: app_audiosocket fails
        self.streams: list[StreamRecord] = []  # every AudioSocket stream played, in order
        self._call_ids = itertools.count(1)
        self._local_seq = itertools.count(0)
        self._uid_seq = itertools.count(0)
        self._bridge_seq = itertools.count(1)

    # ------------------------------------------------------------------ plumbing

    def emit(self, cls: str, text: str) -> None:
        self.sink(cls, text)

    def later(self, call: Call, seconds: float, fn: Callable[..., None], *args: object) -> None:
        """Run ``fn(*args)`` after ``seconds`` of modelled time, as a dialplan timer."""
        call.plan_timers.append(self.loop.call_later(seconds * self.scale, fn, *args))

    def cancel_plan(self, call: Call) -> None:
        for h in call.plan_timers:
            h.cancel()
        call.plan_timers.clear()
        call.resume = None

    def wait(self, call: Call, seconds: float, then: Callable[[], None]) -> None:
        """``Wait(seconds)``, then ``then()``; a Wait cut short runs ``then()`` at once."""
        call.one.app, call.one.app_data = "Wait", f"{seconds:g}"
        self.later(call, seconds, then)
        call.resume = then

    def set_callee_timer(self, call: Call, seconds: float, fn: Callable[[Call], None]) -> None:
        """(Re)arm the far end's own hang-up: ``fn(call)`` after ``seconds`` (inf: never)."""
        if call.callee_timer is not None:
            call.callee_timer.cancel()
        call.callee_timer = None
        if math.isfinite(seconds):
            call.callee_timer = self.loop.call_later(seconds * self.scale, fn, call)

    def new_uid(self) -> str:
        return f"{int(self.clock())}.{next(self._uid_seq)}"

    def new_bridge_id(self) -> str:
        # Asterisk uses a UUID; a fixed-width counter in UUID shape is as opaque.
        return f"00000000-0000-4000-8000-{next(self._bridge_seq):012x}"

    def next_local(self) -> int:
        return next(self._local_seq)

    def new_call_id(self) -> int:
        return next(self._call_ids)

    def add_channel(self, call: Call, ch: Channel) -> None:
        self.by_name[ch.name] = ch
        self.by_uid[ch.uniqueid] = ch
        self.call_of[ch.name] = call

    def drop_channel(self, ch: Channel) -> None:
        self.by_name.pop(ch.name, None)
        self.by_uid.pop(ch.uniqueid, None)
        self.call_of.pop(ch.name, None)

    def find(self, name_or_uid: str) -> Channel | None:
        return self.by_name.get(name_or_uid) or self.by_uid.get(name_or_uid)

    def channels(self) -> list[Channel]:
        return list(self.by_name.values())

    def finish(self, call: Call) -> None:
        """Forget a call whose channels are all hung up; cancel everything it had armed."""
        if call.done:
            return
        call.done = True
        self.cancel_plan(call)
        if call.callee_timer is not None:
            call.callee_timer.cancel()
            call.callee_timer = None
        for ch in (call.one, call.two):
            if ch is not None:
                self.drop_channel(ch)
        if call.agent_legs is not None:
            for ch in call.agent_legs:
                self.drop_channel(ch)
        self.calls.pop(call.id, None)

    def clear(self) -> None:
        """Drop every call silently (a PBX restart that loses its channels)."""
        for call in list(self.calls.values()):
            self.finish(call)
        self.by_name.clear()
        self.by_uid.clear()
        self.call_of.clear()
        self.conferences.clear()
        self.agents.clear()

    # ------------------------------------------------------------------ small emitters

    def varset(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        if self.wants(ev.DIALPLAN):
            self.emit(ev.DIALPLAN, ev.varset(ch, name, value))

    def user_event(self, ch: Channel, name: str, pairs: list[tuple[str, str]]) -> None:
        if self.wants(ev.USER):
            self.emit(ev.USER, ev.user_event(ch, name, pairs))

    def call_event(self, text: str) -> None:
        self.emit(ev.CALL, text)
