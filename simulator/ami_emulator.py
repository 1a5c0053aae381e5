"""An Asterisk Manager Interface (AMI) server that emulates the captured Asterisk 22.10.1.

It listens on 127.0.0.1 (``port=0`` picks a free port; ``.port`` is the real one),
speaks the AMI protocol over TCP and plays calls with the event sequences, headers and
values of ``shared/fixtures/asterisk-ami/transcripts`` (see ``docs/ami-emulator.md``).

Python API (stable; the AMI adapter's tests build on it)::

    emu = AmiEmulator(host="127.0.0.1", port=0, username="dialer", secret=None,  # random
                      time_scale=1.0, dialplan=DialplanConfig(),  # engine_routing=True: prod
                      default_script=CallScript(Outcome.HUMAN),
                      model=None,               # or TrafficModel(scenario, seed=None)
                      order_seed=None,          # int: shuffle what varies in real runs
                      audio=None)               # CallAudio(corpus, seed): AudioSocket streams
    await emu.start(); ...; await emu.stop()    # or: async with AmiEmulator() as emu:
    emu.host, emu.port, emu.secret           # secret=None: a random one for this instance

    # what the far end does, first match wins: ChannelId, ActionID, queued, number,
    # model, default
    emu.script_channel_id("call-7-a", CallScript(Outcome.BUSY))
    emu.script_action_id("orig-7", CallScript(Outcome.MACHINE))
    emu.queue_scripts(CallScript(Outcome.HUMAN, talk=3.0), ...)
    emu.script_number("5215512345678", CallScript(Outcome.NO_ANSWER))
    emu.set_default(CallScript(Outcome.HUMAN)); emu.set_model(TrafficModel(scenario))

    # agents: each logged-in agent's phone sits in ConfBridge "agent-<agent>"
    emu.agent_login("1001"); emu.agent_logout("1001"); emu.agents_present()
    emu.conference_members("agent-1001")       # channel names, in join order

    # faults
    emu.drop_connections(); await emu.restart(keep_calls=False, downtime=0.0)
    emu.refuse_logins(True); emu.delay_responses(2.5); emu.send_garbage(b"...")

    # observation
    emu.calls_in_flight, emu.originates, emu.channel_names()
    emu.audio_streams                           # StreamRecord per AudioSocket stream

With ``audio`` (``simulator.ami_audio.CallAudio``), a call sent to the engine extension
streams a corpus clip matching its outcome to the AudioSocket server named by
``DialplanConfig.audiosocket_server`` / ``DIALER_AS_SERVER`` (``simulator.ami_audiosocket``)
and continues as extensions_dialer.conf does; an unreachable server falls back to AMD().

Times in scripts and ``DialplanConfig`` are modelled seconds; ``time_scale`` is wall
seconds per modelled second (0.1 plays a call ten times faster), and also scales the
Originate ``Timeout``. Standalone: ``python -m simulator.ami_emulator --help``.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from simulator import ami_actions
from simulator import ami_events as ev
from simulator.ami_audio import CallAudio
from simulator.ami_audiosocket import StreamRecord
from simulator.ami_calls import DialplanConfig
from simulator.ami_flows import Pbx
from simulator.ami_protocol import ALL_EVENTS as _ALL
from simulator.ami_protocol import Framer, FramingError, Message, parse_event_mask, response
from simulator.ami_scripts import CallScript, Outcome, TrafficModel

log = logging.getLogger(__name__)

BANNER_VERSION = "11.0.0"  # the captured Asterisk 22.10.1 says "Asterisk Call Manager/11.0.0"


class Session(asyncio.Protocol):
    """One AMI client connection."""

    def __init__(self, emu: AmiEmulator) -> None:
        self.emu = emu
        self.transport: asyncio.Transport | None = None
        self.framer = Framer()
        self.authed = False
        self.mask: frozenset[str] = _ALL
        self.challenge = ""
        self.username = ""
        self.pending: collections.deque[tuple[float, Message]] = collections.deque()
        self.drain: asyncio.TimerHandle | None = None
        self.stalled: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.emu.sessions.add(self)
        transport.write(f"Asterisk Call Manager/{self.emu.banner_version}\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.emu.sessions.discard(self)
        self.authed = False
        for timer in (self.drain, self.stalled):
            if timer is not None:
                timer.cancel()

    def pause_writing(self) -> None:
        # The client stopped reading: drop it if it does not resume in time (writetimeout).
        if self.stalled is None:
            self.stalled = self.emu.loop.call_later(self.emu.write_timeout, self._write_timed_out)

    def resume_writing(self) -> None:
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None

    def _write_timed_out(self) -> None:
        self.stalled = None
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
        except FramingError:
            self.write(response(None, "Error", ("Message", "Request too long")))
            self.close()
            return
        delay = self.emu.response_delay
        for msg in messages:
            if delay > 0 or self.pending:
                # Slow PBX: actions run (and answer) ``delay`` seconds late, in order.
                self.pending.append((self.emu.loop.time() + delay, msg))
                self._arm()
            else:
                self.emu.handle(self, msg)

    def _arm(self) -> None:
        if self.drain is None and self.pending:
            when = self.pending[0][0]
            self.drain = self.emu.loop.call_at(when, self._drain)

    def _drain(self) -> None:
        self.drain = None
        now = self.emu.loop.time()
        while self.pending and self.pending[0][0] <= now:
            _, msg = self.pending.popleft()
            if self.transport is None or self.transport.is_closing():
                return
            self.emu.handle(self, msg)
        self._arm()

    # helpers
    def wants(self, cls: str) -> bool:
        return self.authed and (self.mask is _ALL or cls in self.mask)

    def write(self, text: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(text.encode())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class AmiEmulator:
    """The server, the emulated PBX, the scripting, agent and fault-injection API."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "dialer",
        secret: str | None = None,
        dialplan: DialplanConfig | None = None,
        time_scale: float = 1.0,
        default_script: CallScript | None = None,
        model: TrafficModel | None = None,
        banner_version: str = BANNER_VERSION,
        clock: Callable[[], float] = time.time,
        order_seed: int | None = None,
        write_timeout: float = 5.0,
        audio: CallAudio | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(
                f"time_scale must be > 0 (wall seconds per modelled second), got {time_scale!r}"
            )
        self.host, self.port = host, port
        # No built-in secret: a random one per instance unless the caller gives one.
        self.username, self._secret = username, secret or secrets.token_hex(16)
        self.dialplan = dialplan or DialplanConfig()
        self.time_scale = time_scale
        self.banner_version = banner_version
        self.clock = clock
        self.order_seed = order_seed
        # manager.conf ``writetimeout`` (5000 ms in the captured config): a session
        # whose writes stay blocked this long (seconds) is dropped.
        self.write_timeout = write_timeout
        self.default_script = default_script or CallScript(Outcome.HUMAN)
        self.model = model
        self.audio = audio
        self.sessions: set[Session] = set()
        self.response_delay = 0.0
        self.logins_refused = False
        self.originates = 0
        self.by_channel_id: dict[str, CallScript] = {}
        self.by_action_id: dict[str, CallScript] = {}
        self.by_number: dict[str, CallScript] = {}
        self.queued: collections.deque[CallScript] = collections.deque()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pbx: Pbx | None = None
        self.booted_at = clock()
        self._model_t0 = 0.0

    @property
    def secret(self) -> str:
        """The login secret clients must present (kept out of ``repr`` and logs)."""
        return self._secret

    def __repr__(self) -> str:  # never the secret
        return f"AmiEmulator(host={self.host!r}, port={self.port}, username={self.username!r})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("AmiEmulator is not started")
        return self._loop

    @property
    def pbx(self) -> Pbx:
        if self._pbx is None:
            raise RuntimeError("AmiEmulator is not started")
        return self._pbx

    async def start(self) -> None:
        """Listen on ``host``:``port``; ``port`` then holds the real port."""
        self._loop = asyncio.get_running_loop()
        self._model_t0 = self._loop.time()
        self._pbx = Pbx(
            self._loop,
            self._fan_out,
            self._anyone_wants,
            dialplan=self.dialplan,
            time_scale=self.time_scale,
            clock=self.clock,
            order_seed=self.order_seed,
        )
        self._pbx.audio = self.audio
        await self._listen()

    async def _listen(self) -> None:
        self._server = await self.loop.create_server(
            lambda: Session(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and the listener; forget every call."""
        await self._close_listener()
        if self._pbx is not None:
            self._pbx.clear()

    async def _close_listener(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AmiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ events out

    def _fan_out(self, cls: str, text: str) -> None:
        data: bytes | None = None
        for s in self.sessions:
            if s.authed and (s.mask is _ALL or cls in s.mask):
                if data is None:
                    data = text.encode()
                t = s.transport
                if t is not None and not t.is_closing():
                    t.write(data)

    def _anyone_wants(self, cls: str) -> bool:
        return any(s.authed and (s.mask is _ALL or cls in s.mask) for s in self.sessions)

    # ------------------------------------------------------------------ scripting

    def script_channel_id(self, channel_id: str, script: CallScript) -> None:
        """The call originated with ``ChannelId: channel_id`` plays ``script``."""
        self.by_channel_id[channel_id] = script

    def script_action_id(self, action_id: str, script: CallScript) -> None:
        """The Originate with ``ActionID: action_id`` plays ``script``."""
        self.by_action_id[action_id] = script

    def queue_scripts(self, *scripts: CallScript) -> None:
        """The next originates (not matched by id) play these, in order."""
        self.queued.extend(scripts)

    def script_number(self, number: str, script: CallScript) -> None:
        """Every call to ``number`` (digits of the dial string's resource) plays ``script``."""
        self.by_number[number] = script

    def set_default(self, script: CallScript) -> None:
        self.default_script = script

    def set_model(self, model: TrafficModel | None) -> None:
        """Draw unscripted calls from ``model`` (its time 0 is now)."""
        self.model = model
        if self._loop is not None:
            self._model_t0 = self._loop.time()

    def choose_script(self, channel_id: str, action_id: str, number: str) -> CallScript:
        if channel_id and channel_id in self.by_channel_id:
            return self.by_channel_id.pop(channel_id)
        if action_id and action_id in self.by_action_id:
            return self.by_action_id.pop(action_id)
        if self.queued:
            return self.queued.popleft()
        if number in self.by_number:
            return self.by_number[number]
        if self.model is not None:
            t = (self.loop.time() - self._model_t0) / self.time_scale
            return self.model.draw(t)
        return self.default_script

    # ------------------------------------------------------------------ agents

    def agent_login(self, agent: str, *, phone_context: str = "agent-phone") -> None:
        """Put agent ``agent``'s phone in its conference, as the fixtures' login does.

        Same events as the captured login Originate (``Local/<agent>@agent-phone``,
        ``UserEvent AgentLogin``, ``ConfbridgeStart``/``Join`` of ``agent-<agent>``),
        without an OriginateResponse: nobody sent an Originate.
        """
        if agent in self.pbx.agents:
            raise ValueError(f"agent {agent!r} is already logged in")
        self.pbx.originate(
            dial=f"Local/{agent}@{phone_context}",
            script=CallScript(Outcome.HUMAN, ring=0.0, hangup_after=float("inf")),
            context=self.dialplan.login_context,
            exten=agent,
            variables=[],
            caller_id=f'"Agent {agent}" <{agent}>',
            timeout=float("inf"),
            action_id=None,
            report=False,
        )

    def agent_logout(self, agent: str) -> None:
        """The agent's phone hangs up: ConfbridgeLeave, and ConfbridgeEnd if it was last."""
        call = self.pbx.agents.get(agent)
        if call is None:
            raise ValueError(f"agent {agent!r} is not logged in")
        self.pbx.callee_hangup(call)

    def agents_present(self) -> set[str]:
        """Agents whose phone is in their conference now."""
        return set(self.pbx.agents)

    def conference_members(self, conference: str) -> list[str]:
        b = self.pbx.conferences.get(conference)
        return [] if b is None else [ch.name for ch in b.members]

    # ------------------------------------------------------------------ observation

    def set_dialplan(self, dialplan: DialplanConfig) -> None:
        """Play ``dialplan`` from now on (e.g. once the AudioSocket server's port is known)."""
        self.dialplan = dialplan
        if self._pbx is not None:
            self._pbx.plan = dialplan

    def set_audio(self, audio: CallAudio | None) -> None:
        """Stream corpus audio to the AudioSocket server of calls sent to the engine's
        detector (``DialplanConfig.engine_exten``); ``None``: AudioSocket() fails at once."""
        self.audio = audio
        if self._pbx is not None:
            self._pbx.audio = audio

    @property
    def audio_streams(self) -> list[StreamRecord]:
        """Every AudioSocket stream played so far (``simulator.ami_audiosocket``)."""
        return self.pbx.streams

    @property
    def calls_in_flight(self) -> int:
        return len(self.pbx.calls)

    def channel_names(self) -> list[str]:
        return [ch.name for ch in self.pbx.channels()]

    # ------------------------------------------------------------------ faults

    def drop_connections(self) -> None:
        """Cut every AMI connection at once (RST); calls go on."""
        for s in list(self.sessions):
            if s.transport is not None:
                s.transport.abort()
        self.sessions.clear()

    async def restart(self, *, keep_calls: bool = False, downtime: float = 0.0) -> None:
        """A new boot: connections cut, nothing listens for ``downtime`` wall seconds,
        then a fresh listener on the same port (``FullyBooted`` Uptime restarts at 0).
        ``keep_calls=False`` loses every call silently, as a crashed Asterisk does."""
        await self._close_listener()
        if not keep_calls:
            self.pbx.clear()
        if downtime > 0:
            await asyncio.sleep(downtime)
        self.booted_at = self.clock()
        await self._listen()

    def refuse_logins(self, refuse: bool = True) -> None:
        """Answer every Login with ``Authentication failed`` (and disconnect)."""
        self.logins_refused = refuse

    def delay_responses(self, seconds: float) -> None:
        """Run each action, and answer it, ``seconds`` wall seconds after it arrives."""
        if not seconds >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {seconds!r}")
        self.response_delay = seconds

    def send_garbage(self, data: bytes | None = None) -> None:
        """Write raw bytes to every connection: by default non-UTF-8 bytes, a line
        without a colon, a truncated block and a huge header value."""
        if data is None:
            data = (
                b"\xff\xfe\x80garbage\r\nno colon here\r\n\r\n"
                b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: " + b"X" * 70000 + b"\r\n"
                b"Event: Trunc"
            )
        for s in self.sessions:
            if s.transport is not None and not s.transport.is_closing():
                s.transport.write(data)

    # ------------------------------------------------------------------ actions

    def handle(self, s: Session, msg: Message) -> None:
        """Run one action from ``s`` and write its response (``simulator.ami_actions``).

        An emulator bug must not look like a PBX that went silent: it is logged with the
        action's name (never its headers: a Login carries the secret) and answered.
        """
        try:
            ami_actions.handle(self, s, msg)
        except Exception:
            log.exception("AMI emulator: action %r failed", msg.action[:40])
            aid = msg.get("ActionID") if msg.has("ActionID") else None
            s.write(response(aid, "Error", ("Message", "Internal error in the emulator")))

    # ------------------------------------------------------------------ login

    def login(self, s: Session, msg: Message, aid: str | None) -> None:
        ok = not self.logins_refused and msg.get("Username") == self.username
        if ok:
            if msg.get("AuthType").lower() == "md5" and s.challenge:
                want = hashlib.md5((s.challenge + self._secret).encode()).hexdigest()
                ok = secrets.compare_digest(msg.get("Key").lower(), want)
            else:
                ok = secrets.compare_digest(msg.get("Secret"), self._secret)
        if not ok:
            # Asterisk answers, then closes the session (manager.c, authenticate()).
            s.write(response(aid, "Error", ("Message", "Authentication failed")))
            s.close()
            return
        s.authed, s.username = True, self.username
        s.mask = parse_event_mask(msg.get("Events", "on"))
        s.write(response(aid, "Success", ("Message", "Authentication accepted")))
        up = int(self.clock() - self.booted_at)
        if s.wants(ev.SYSTEM):
            body = f"Uptime: {up}\r\nLastReload: {up}\r\nStatus: Fully Booted\r\n"
            s.write(ev.event("FullyBooted", ev.SYSTEM, body))
        if s.wants(ev.SECURITY) and s.transport is not None:
            tv = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
            local, peer = (
                s.transport.get_extra_info("sockname"),
                s.transport.get_extra_info("peername"),
            )
            body = (
                f"EventTV: {tv}\r\nSeverity: Informational\r\nService: AMI\r\nEventVersion: 1\r\n"
                f"AccountID: {self.username}\r\nSessionID: 0x{id(s):x}\r\n"
                f"LocalAddress: IPV4/TCP/{local[0]}/{local[1]}\r\n"
                f"RemoteAddress: IPV4/TCP/{peer[0]}/{peer[1]}\r\n"
                f"UsingPassword: 0\r\nSessionTV: {tv}\r\n"
            )
            s.write(ev.event("SuccessfulAuth", ev.SECURITY, body))


if __name__ == "__main__":  # python -m simulator.ami_emulator
    from simulator.ami_emulator_cli import main

    raise SystemExit(main())
