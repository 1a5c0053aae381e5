"""The Asterisk backend: ``telephony.port.Telephony`` (and ``AgentPresence``) over AMI.

One ``AmiConnection`` (panoramisk) per Asterisk server, one ``AmiTranslator`` per
server (uids are per server). What the engine's orders become:

- ``originate``: the number goes through ``e164_digits`` and the chosen trunk's
  template, then ``Originate`` with ``Async: true``, our own ActionID, ``ChannelId`` (so
  the ``;1`` uid is known before the PBX answers: README pitfall 1) and the variables
  ``CALLID``, ``LEADID``, ``DIALER_AS_UUID`` (the AudioSocket UUID for our detector)
  plus the runner's. The future is not awaited: many originates fly at once. The server
  and trunk are the ones with the most free channels among servers that are up
  (progressive: the server where the reserved agent sits).
- ``bridge``: ``Redirect`` of the customer's ``;1`` to ``conference_context,<agent>,1``
  (the agent's ConfBridge), refused if the agent is not in it (README conference
  pitfall 4). AMI ``Bridge`` is never used (it cannot move a ConfBridge member).
- ``play_and_hangup``: ``Setvar DIALER_PROMPT`` then ``Redirect`` to the machine-message
  extension (after a MACHINE verdict: it waits for the beep) or the abandon extension.
- ``hangup``: ``Hangup`` with ``Channel: <uid>`` (retried briefly while the channel of a
  just-queued Originate does not exist yet).

Orders return once written (the port's contract); their responses are checked in
callbacks. While a server is down it gets no dials (``TelephonyError``); when it comes
back, ``CoreShowChannels`` reconciles the calls it had in flight: each is either still
there, or closed exactly once with what we know (``AmiTranslator.reconcile``), and a
channel that turns up after we closed its call is hung up.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from dialer.errors import TelephonyError, TelephonyUnavailable
from dialer.ids import AgentId, CallId
from telephony.ami_connection import AmiConnection, AmiMessage, results
from telephony.ami_settings import AmiSettings, Trunk
from telephony.ami_translate import AmiTranslator, Out
from telephony.events import AmdVerdict, CallAnswered, CallEvent, CallFailed, CallHungUp
from telephony.port import Originate, e164_digits
from telephony.presence import AgentJoined, AgentLeft, PresenceEvent
from telephony.stream import EventStream

log = logging.getLogger("telephony.ami")

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Channel variable values travel in ``Variable: K=V`` headers that Asterisk splits on
# ",", and our dialplan puts them into UserEvent arguments: keep them inert.
_VAR_VALUE = re.compile(r"[A-Za-z0-9_.:@+/=-]{0,128}")
_PROMPT = re.compile(r"[A-Za-z0-9_/.-]{1,128}")
HANGUP_RETRIES = 10
HANGUP_RETRY_DELAY = 0.2  # seconds
FAIR_EVERY = 32  # events handed to the runner between two turns of the event loop


class _FairStream(EventStream[CallEvent]):
    """The call-event stream, yielding to the event loop every ``FAIR_EVERY`` events of
    a burst: one TCP read can carry hundreds of events, and without a pause the runner
    would handle them all before any timer (a connect deadline) or order could run."""

    def __init__(self) -> None:
        super().__init__()
        self._served = 0

    async def __anext__(self) -> CallEvent:
        self._served += 1
        if self._served % FAIR_EVERY == 0 and len(self):
            await asyncio.sleep(0)
        return await super().__anext__()


@dataclass(slots=True)
class _Server:
    conn: AmiConnection
    translator: AmiTranslator
    in_use: dict[str, int]  # trunk name -> calls holding a channel
    down_since: float | None = None
    audiosocket_failing: bool = False  # the dialplan's TryExec(AudioSocket) last failed


@dataclass(slots=True)
class _Placed:
    server: _Server
    trunk: Trunk
    uid: str
    as_uuid: str
    placed_at: float
    verdict: AmdVerdict | None = None
    watchdog: asyncio.TimerHandle | None = None


# The campaign's detector (CampaignSettings.amd, sent as DIALER_AMD) -> the outbound
# extension of asterisk/extensions_dialer.conf that runs it.
_AMD_EXTEN = {"asterisk": "amd", "engine": "engine"}


class AmiTelephony:
    """The production telephony backend. ``await start()`` before use, ``close()`` after."""

    def __init__(self, servers: Sequence[AmiSettings], *, session: str | None = None) -> None:
        if not servers:
            raise ValueError("at least one AMI server is needed")
        labels = [s.label for s in servers]
        if len(set(labels)) != len(labels):
            raise ValueError("two AMI servers with the same host:port/name")
        self._session = session if session is not None else uuid.uuid4().hex[:8]
        if not _ID.fullmatch(self._session):
            raise ValueError("session must be 1-64 letters, digits, '_.:-'")
        self._calls: dict[CallId, _Placed] = {}
        self._by_uuid: dict[str, CallId] = {}
        self._stream: EventStream[CallEvent] = _FairStream()
        self._presence: EventStream[PresenceEvent] = EventStream()
        self._servers: list[_Server] = []
        for s in servers:
            tr = AmiTranslator(
                call_variables=("CALLID", "DIALER_CALL"),
                conference_prefix=s.conference_prefix,
                customer_context=s.conference_context,
            )
            server = _Server(
                AmiConnection(s, on_message=self._handler(tr), on_up=self._up, on_down=self._down),
                tr,
                {t.name: 0 for t in s.trunks},
            )
            self._servers.append(server)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = {
            "originates": 0,
            "refused": 0,
            "bridges": 0,
            "abandon_messages": 0,
            "machine_messages": 0,
            "hangups": 0,
            "strays_hung_up": 0,
            "reconciled": 0,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect and log in to every server; raise ``TelephonyError`` naming each
        server that could not be reached or refused the login (never the secret)."""
        self._loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(
            *(s.conn.connect() for s in self._servers), return_exceptions=True
        )
        errors = [str(o) for o in outcomes if isinstance(o, BaseException)]
        if errors:
            await self.close()
            raise TelephonyError("; ".join(errors))
        # Agents already sitting in their conferences (an engine restart mid-shift).
        for server in self._servers:
            await self._reconcile(server, older_than=float("-inf"))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for s in self._servers:
            await s.conn.close()
        for placed in self._calls.values():
            if placed.watchdog is not None:
                placed.watchdog.cancel()
        self._stream.close()
        self._presence.close()

    async def __aenter__(self) -> AmiTelephony:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ the port

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream

    def presence(self) -> AsyncIterator[PresenceEvent]:
        return self._presence

    async def originate(self, request: Originate) -> None:
        digits = e164_digits(request.number)  # before anything reaches a dial string
        call = request.call
        if not _ID.fullmatch(call):
            raise TelephonyError(f"call id {call!r}: 1-64 letters, digits, '_.:-' only")
        if call in self._calls:
            raise TelephonyError(f"call {call} is already in flight")
        variables = {"CALLID": call, "LEADID": request.lead, **request.variables}
        as_uuid = str(uuid.uuid4())
        variables["DIALER_AS_UUID"] = as_uuid
        for key, value in variables.items():
            if not _VAR_NAME.fullmatch(key) or not _VAR_VALUE.fullmatch(value):
                raise TelephonyError(f"call {call}: channel variable {key!r} has unsafe text")
        server, trunk = self._choose(request.reserved_for)
        s = server.conn.settings
        uid = f"{self._session}-{call}"
        action_id = f"dialer/{self._session}/{call}"
        action: dict[str, str | list[str]] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Async": "true",  # without it panoramisk 1.4 crashes the connection
            "Channel": trunk.dial_string(digits),
            "ChannelId": uid,
            "OtherChannelId": f"{uid}-b",
            "Context": s.outbound_context,
            "Exten": _AMD_EXTEN.get(variables.get("DIALER_AMD", ""), s.outbound_exten),
            "Priority": "1",
            "Timeout": str(max(1, round(request.ring_timeout * 1000))),
            "Variable": [f"{k}={v}" for k, v in variables.items()],
        }
        if s.caller_id:
            action["CallerID"] = s.caller_id
        server.translator.placed(call, action_id=action_id, unique_id=uid)
        loop = self._loop or asyncio.get_running_loop()
        placed = _Placed(server, trunk, uid, as_uuid, loop.time())
        try:
            fut = server.conn.send(action)
        except TelephonyError:
            server.translator.settle(call, loop.time())  # nothing was sent: forget it
            raise
        self._calls[call] = placed
        self._by_uuid[as_uuid] = call
        server.in_use[trunk.name] += 1
        self.stats["originates"] += 1
        fut.add_done_callback(lambda f: self._originate_done(server, f))
        placed.watchdog = loop.call_later(
            request.ring_timeout + s.originate_grace, self._stuck, server, call
        )
        # Let the event loop breathe between the originates of a burst: a verdict read
        # meanwhile is routed now, not after the whole batch (decision latency).
        await asyncio.sleep(0)

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        placed = self._calls.get(call)
        if placed is None:
            return  # the call already ended; its last event is on the stream
        server = placed.server
        s = server.conn.settings
        if not server.translator.present(agent):
            # Never into an empty room (conference pitfall 4); the person must not wait
            # in silence either: the identification message, now.
            server.translator.message_ordered(call)
            self.stats["abandon_messages"] += 1
            self._order(server, call, {
                "Action": "Redirect", "Channel": placed.uid, "Context": s.route_context,
                "Exten": s.abandon_exten, "Priority": "1",
            })  # fmt: skip
            raise TelephonyError(
                f"call {call}: agent {agent} is not in a conference on {server.conn.label};"
                " the person gets the identification message"
            )
        server.translator.bridge_ordered(call, agent)
        self.stats["bridges"] += 1
        self._order(server, call, {
            "Action": "Redirect", "Channel": placed.uid, "Context": s.conference_context,
            "Exten": agent, "Priority": "1",
        })  # fmt: skip

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        placed = self._calls.get(call)
        if placed is None:
            return
        if not _PROMPT.fullmatch(prompt):
            raise TelephonyError(f"prompt {prompt!r}: a sound name, letters/digits/_-./ only")
        if placed.verdict is None:
            await self.hangup(call)  # nobody to play to before detection has decided
            return
        server = placed.server
        s = server.conn.settings
        exten = s.machine_exten if placed.verdict is AmdVerdict.MACHINE else s.abandon_exten
        server.translator.message_ordered(call)
        machine = placed.verdict is AmdVerdict.MACHINE
        self.stats["machine_messages" if machine else "abandon_messages"] += 1
        self._order(server, call, {
            "Action": "Setvar", "Channel": placed.uid, "Variable": "DIALER_PROMPT",
            "Value": prompt,
        }, quiet=True)  # fmt: skip
        self._order(server, call, {
            "Action": "Redirect", "Channel": placed.uid, "Context": s.route_context,
            "Exten": exten, "Priority": "1",
        })  # fmt: skip

    async def hangup(self, call: CallId) -> None:
        placed = self._calls.get(call)
        if placed is None:
            return
        placed.server.translator.hangup_ordered(call)
        self.stats["hangups"] += 1
        self._hangup(placed.server, call, placed.uid, HANGUP_RETRIES)

    def engine_verdict(self, as_uuid: str, verdict: AmdVerdict) -> None:
        """Our AudioSocket detector's verdict for the call whose ``DIALER_AS_UUID`` is
        ``as_uuid`` (the server's callback). Ignored if the call is over or decided."""
        call = self._by_uuid.get(as_uuid)
        placed = None if call is None else self._calls.get(call)
        if placed is None or call is None:
            return
        now = self._now()
        self._emit(placed.server, placed.server.translator.engine_verdict(call, verdict, now))

    def as_uuid(self, call: CallId) -> str | None:
        """The AudioSocket UUID the dialplan will connect with for ``call``."""
        placed = self._calls.get(call)
        return None if placed is None else placed.as_uuid

    async def ask(
        self, action: dict[str, str | list[str]], *, server: int = 0
    ) -> list[dict[str, str]]:
        """Send one AMI action to server number ``server`` and return its response
        message(s) (diagnostics: ``dialer telephony check``)."""
        return await self._servers[server].conn.request(action)

    # ------------------------------------------------------------------ queries

    @property
    def calls_in_flight(self) -> int:
        return len(self._calls)

    def servers_up(self) -> list[str]:
        return [s.conn.label for s in self._servers if s.conn.up]

    def agents_present(self) -> frozenset[AgentId]:
        out: frozenset[AgentId] = frozenset()
        for s in self._servers:
            out |= s.translator.present_agents()
        return out

    # ------------------------------------------------------------------ internals

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _now(self) -> float:
        return (self._loop or asyncio.get_running_loop()).time()

    def _choose(self, agent: AgentId | None) -> tuple[_Server, Trunk]:
        """The up server and trunk with the most free channels (ratio, then count)."""
        best: tuple[float, int, _Server, Trunk] | None = None
        any_up = False
        for server in self._servers:
            if not server.conn.up:
                continue
            any_up = True
            if agent is not None and not server.translator.present(agent):
                continue
            for trunk in server.conn.settings.trunks:
                free = trunk.channels - server.in_use[trunk.name]
                if free <= 0:
                    continue
                key = (free / trunk.channels, free, server, trunk)
                if best is None or key[:2] > best[:2]:
                    best = key
        if best is None:
            self.stats["refused"] += 1
            if not any_up:
                raise TelephonyUnavailable("no AMI server is connected: dialling paused")
            if agent is not None:
                raise TelephonyError(f"agent {agent} is in no conference on a connected server")
            raise TelephonyError("every trunk is at its channel limit")
        return best[2], best[3]

    def _handler(self, tr: AmiTranslator) -> Callable[[AmiMessage], None]:
        def on_message(msg: AmiMessage) -> None:
            server = next(s for s in self._servers if s.translator is tr)
            self._feed(server, msg)

        return on_message

    def _feed(self, server: _Server, msg: AmiMessage) -> None:
        tr = server.translator
        self._emit(server, tr.feed(msg, self._now()))
        if msg.get("UserEvent") == "AudioSocketDone" and "TryStatus" in msg:
            self._audiosocket_status(server, msg)
        if tr.strays:
            for uid in tr.strays:
                self.stats["strays_hung_up"] += 1
                log.warning("AMI %s: channel %s turned up after its call was closed; hanging it up",
                            server.conn.label, uid)  # fmt: skip
                self._send_quietly(server, {"Action": "Hangup", "Channel": uid, "Cause": "16"})
            tr.strays.clear()

    def _audiosocket_status(self, server: _Server, msg: AmiMessage) -> None:
        """Log once, clearly, when the dialplan falls back from our AudioSocket detector
        to AMD() (extensions_dialer.conf: TRYSTATUS is not SUCCESS), and once when it
        works again; not once per call."""
        failed = msg.get("TryStatus") != "SUCCESS"
        if failed and not server.audiosocket_failing:
            log.warning("AMI %s: our AudioSocket detector is unreachable from Asterisk (call %s: "
                        "TryExec(AudioSocket) %s); calls fall back to Asterisk's AMD() until it "
                        "answers again", server.conn.label, msg.get("CallID", "?"),
                        msg.get("TryStatus"))  # fmt: skip
        elif not failed and server.audiosocket_failing:
            log.info("AMI %s: our AudioSocket detector is reachable again", server.conn.label)
        server.audiosocket_failing = failed

    def _emit(self, server: _Server, events: list[Out]) -> None:
        for ev in events:
            if isinstance(ev, (AgentJoined, AgentLeft)):
                self._presence.put(ev)
                continue
            placed = self._calls.get(ev.call)
            if isinstance(ev, CallAnswered) and placed is not None:
                placed.verdict = ev.verdict
            elif isinstance(ev, (CallFailed, CallHungUp)) and placed is not None:
                del self._calls[ev.call]
                self._by_uuid.pop(placed.as_uuid, None)
                placed.server.in_use[placed.trunk.name] -= 1
                if placed.watchdog is not None:
                    placed.watchdog.cancel()
            self._stream.put(ev)

    def _originate_done(self, server: _Server, fut: asyncio.Future[object]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        for msg in results(fut.result()):
            if msg.get("Response") in ("Error", "Failure") and "Event" not in msg:
                log.warning("AMI %s: Originate %s refused: %s", server.conn.label,
                            msg.get("ActionID"), msg.get("Message", "?"))  # fmt: skip
            self._feed(server, msg)  # the OriginateResponse only ever arrives here

    def _order(
        self, server: _Server, call: CallId, action: dict[str, str | list[str]], *,
        quiet: bool = False,
    ) -> None:  # fmt: skip
        fut = server.conn.send(action)  # raises TelephonyError while the server is down

        def done(f: asyncio.Future[object]) -> None:
            if f.cancelled() or f.exception() is not None or quiet:
                return
            for msg in results(f.result()):
                if msg.get("Response") == "Error":
                    why = msg.get("Message", "?")
                    # "No such channel": the call ended meanwhile (its Hangup follows).
                    level = logging.INFO if "no such channel" in why.lower() else logging.WARNING
                    log.log(level, "AMI %s: %s of call %s failed: %s", server.conn.label,
                            action["Action"], call, why)  # fmt: skip

        fut.add_done_callback(done)

    def _send_quietly(self, server: _Server, action: dict[str, str | list[str]]) -> None:
        try:
            server.conn.send(action)
        except TelephonyError as exc:
            log.warning("%s", exc)

    def _hangup(self, server: _Server, call: CallId, uid: str, tries: int) -> None:
        fut = server.conn.send({"Action": "Hangup", "Channel": uid, "Cause": "16"})

        def done(f: asyncio.Future[object]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            reply = results(f.result())
            failed = bool(reply) and reply[0].get("Response") == "Error"
            # An Originate still queued has no channel yet: try again shortly.
            if failed and call in self._calls and tries > 0 and server.conn.up:
                loop = self._loop or asyncio.get_running_loop()
                loop.call_later(HANGUP_RETRY_DELAY, self._retry_hangup, server, call, tries - 1)

        fut.add_done_callback(done)

    def _retry_hangup(self, server: _Server, call: CallId, tries: int) -> None:
        placed = self._calls.get(call)
        if placed is not None and server.conn.up:
            self._hangup(server, call, placed.uid, tries)

    def _stuck(self, server: _Server, call: CallId) -> None:
        """No outcome long after the ring timeout: ask the PBX what is left."""
        if call in self._calls and server.conn.up:
            log.warning("AMI %s: call %s has no outcome %.0f s after its ring timeout; "
                        "reconciling", server.conn.label, call,
                        server.conn.settings.originate_grace)  # fmt: skip
            self._background(self._reconcile(server, older_than=self._now()))

    def _up(self, conn: AmiConnection) -> None:
        server = next(s for s in self._servers if s.conn is conn)
        if server.down_since is not None:
            self._background(self._reconcile(server, older_than=self._now()))
            server.down_since = None

    def _down(self, conn: AmiConnection, why: str) -> None:
        server = next(s for s in self._servers if s.conn is conn)
        server.down_since = self._now()
        held = sum(1 for p in self._calls.values() if p.server is server)
        log.warning(
            "AMI %s: connection lost (%s); %d calls in flight there; no new dials to it "
            "until it is back", conn.label, why, held,
        )  # fmt: skip

    async def _recover_verdicts(self, server: _Server, calls: set[CallId]) -> None:
        """A verdict reached while we could not see it is still in the channel's
        ``AMDSTATUS`` (AMD() sets it): read it back rather than lose the person."""
        for call, uid in server.translator.awaiting_verdict().items():
            if call not in calls or not server.conn.up:
                continue
            try:
                reply = await server.conn.request(
                    {"Action": "Getvar", "Channel": uid, "Variable": "AMDSTATUS"}
                )
            except TelephonyError:
                return
            value = reply[0].get("Value", "") if reply else ""
            if value and reply[0].get("Response") == "Success":
                msg = {"Event": "VarSet", "Uniqueid": uid, "Linkedid": uid,
                       "Variable": "AMDSTATUS", "Value": value}  # fmt: skip
                self._feed(server, msg)

    async def _reconcile(self, server: _Server, *, older_than: float) -> None:
        """Compare our calls on ``server`` placed before ``older_than`` with the PBX's
        channels; close the ones that are gone, each exactly once."""
        try:
            reply = await server.conn.request({"Action": "CoreShowChannels"})
        except TelephonyError as exc:
            log.warning("AMI %s: cannot reconcile calls: %s", server.conn.label, exc)
            return
        live = {m["Uniqueid"]: m for m in reply if m.get("Event") == "CoreShowChannel"
                and "Uniqueid" in m}  # fmt: skip
        mine = [
            c for c, p in self._calls.items() if p.server is server and p.placed_at < older_than
        ]
        before = len(mine)
        events = server.translator.reconcile(live, self._now(), calls=mine)
        self._emit(server, events)
        await self._recover_verdicts(server, set(mine))
        ended = sum(1 for e in events if isinstance(e, (CallFailed, CallHungUp)))
        self.stats["reconciled"] += before
        if before == 0:
            return
        log.warning(
            "AMI %s: reconciled %d calls in flight: %d still up, %d ended while we could "
            "not see them", server.conn.label, before, before - ended, ended,
        )  # fmt: skip
