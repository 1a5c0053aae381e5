"""The call flows of the emulated PBX: what each outcome and dialplan role emits, when.

Each flow cites the fixture transcript whose event sequence it reproduces
(``shared/fixtures/asterisk-ami/transcripts/<name>.txt``; ``key_events.txt`` digests
them). A trunk channel (any technology but ``Local``) has no ``;2`` half: its events
are left out and the ``;1`` Hangup carries the far end's real cause.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid

from simulator import ami_events as ev
from simulator.ami_audiosocket import StreamEnd, StreamRecord, stream_call
from simulator.ami_bridges import BUSY_STATE, DOWN, RING, RINGING, UP, BridgingPbx
from simulator.ami_calls import Call, parse_server
from simulator.ami_events import Bridge, Channel
from simulator.ami_scripts import FAILURES, CallScript, Outcome

log = logging.getLogger("simulator.ami_emulator")


def _in_conference(ch: Channel) -> bool:
    return ch.bridge is not None and ch.bridge.technology == "softmix"


def parse_callerid(value: str) -> tuple[str, str]:
    """``"Dialer" <5550100>`` -> (``5550100``, ``Dialer``); a bare number is its own name."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].rpartition("<")
        name = name.strip().strip('"')
        return num.strip() or ev.UNKNOWN, name or ev.UNKNOWN
    return (value, value) if value else (ev.UNKNOWN, ev.UNKNOWN)


class Pbx(BridgingPbx):
    """``BridgingPbx`` plus the call flows; the AMI server calls the public methods below."""

    # ------------------------------------------------------------------ originate

    def originate(
        self,
        *,
        dial: str,
        script: CallScript,
        context: str,
        exten: str,
        application: str = "",
        data: str = "",
        variables: list[tuple[str, str]],
        caller_id: str,
        timeout: float,
        action_id: str | None,
        channel_id: str = "",
        other_channel_id: str = "",
        report: bool = True,
    ) -> Call:
        """Start a call to the dial string ``dial`` (``Tech/resource``). ``timeout`` is
        the ring limit in modelled seconds. Returns the call (already emitting)."""
        tech, _, resource = dial.partition("/")
        seq = self.next_local()
        now = self.loop.time()
        local = tech.lower() == "local"
        if local:
            target_exten, _, target_ctx = resource.partition("@")
            base = f"{tech}/{resource}-{seq:08x}"
            one_name, two_name = f"{base};1", f"{base};2"
        else:
            target_exten, _, host = resource.partition("@")
            endpoint = host or resource.split("/")[0]
            target_ctx = "default"
            one_name, two_name = f"{tech}/{endpoint}-{seq:08x}", ""
        uid1 = channel_id or self.new_uid()
        one = Channel(
            one_name, uid1, uid1, state=DOWN, context=target_ctx, exten=target_exten, created=now
        )
        two = None
        if local:
            uid2 = other_channel_id or self.new_uid()
            two = Channel(
                two_name,
                uid2,
                uid1,
                state=RING,
                context=target_ctx,
                exten=target_exten,
                created=now,
            )
        audio = self.audio
        if audio is not None and report and not application and context == self.plan.amd_context:
            # The far end's audio (a corpus clip matching the outcome) and what it implies.
            script = audio.for_call(script)
        call = Call(self.new_call_id(), one, two, script.resolved())
        call.action_id, call.report, call.dial_string = action_id, report, dial
        call.reported_uid = channel_id or None
        call.location = (
            [("Application", application), ("Data", data)]
            if application
            else [("Context", context), ("Exten", exten)]
        )
        self.calls[call.id] = call
        self.add_channel(call, one)
        self.call_event(ev.newchannel(one))
        if two is not None:
            self.add_channel(call, two)
            self.call_event(ev.newchannel(two))
        s = call.script
        for name, value in reversed(variables):  # captured in reverse order on ;1
            self.varset(one, name, value)
        if two is not None:
            for name, value in variables:
                self.varset(two, name, value)
        num, name = parse_callerid(caller_id)
        one.set_callerid(num, name, num, name)
        if two is not None:
            two.set_callerid(num, name, num, name)
        if s.outcome is Outcome.NONEXISTENT:
            # nonexistent_extension: ;2 finds no extension; no Dial events at all.
            if two is not None:
                self.call_event(ev.hangup(two, 0))
            self._report_failure(call, 0)
            self.call_event(ev.hangup(one, 0))
            self.finish(call)
            return call
        self.call_event(ev.dial_begin(None, one, resource))
        ring = math.inf if s.outcome is Outcome.NO_ANSWER else (s.ring or 0.0)
        if ring > 0:
            one.set_state(RINGING)
            self.call_event(ev.newstate(one))
            self.call_event(ev.dial_state(None, one, "RINGING"))
        target = (context, exten, application)
        if ring >= timeout and s.outcome not in FAILURES - {Outcome.NO_ANSWER}:
            self.later(call, timeout, self._no_answer, call)
        elif s.outcome in FAILURES:
            if ring == 0:
                self._fail(call)
            else:
                self.later(call, ring, self._fail, call)
        elif ring == 0:
            self._answer(call, target)
        else:
            self.later(call, ring, self._answer, call, target)
        return call

    def _no_answer(self, call: Call) -> None:
        # noanswer: HangupRequest ;2 19, OR Failure/3, ;2 then ;1 Hangup 19; no DialEnd.
        one, two = call.one, call.two
        if two is not None:
            self.call_event(ev.hangup_request(two, 19, soft=False))
        self._report_failure(call, 3)
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=True))
        self._hangup_far(call, 19)
        self.call_event(ev.hangup(one, 19))
        self.finish(call)

    def _fail(self, call: Call) -> None:
        one, two, outcome = call.one, call.two, call.script.outcome
        if outcome is Outcome.BUSY or outcome is Outcome.CONGESTION:
            # busy / congestion: the real cause is only on ;2; ;1 gets 0 (README pitfall 2).
            busy = outcome is Outcome.BUSY
            cause, reason = (17, 5) if busy else (34, 8)
            if two is not None:
                two.set_state(BUSY_STATE)
                self.call_event(ev.newstate(two))
            self.call_event(ev.dial_end(None, one, "BUSY" if busy else "CONGESTION"))
            if two is not None:
                self.call_event(ev.hangup_request(two, 0, soft=False))
            self._report_failure(call, reason)
            self.call_event(ev.hangup(one, 0 if two is not None else cause))
            if two is not None:
                self.call_event(ev.hangup_request(two, 16, soft=True))
            self._hangup_far(call, cause)
        else:
            # invalid_number: cause 1 on both halves, DialEnd NOANSWER, Reason 0.
            # REJECTED (not captured): the far end hangs up while ringing; pbx.c's
            # pbx_dial_reason() maps AST_CONTROL_HANGUP to Reason 1.
            cause, reason = (1, 0) if outcome is Outcome.UNALLOCATED else (16, 1)
            if two is not None:
                self.call_event(ev.hangup_request(two, 16, soft=True))
            self.call_event(ev.hangup_request(one, cause, soft=False))
            self.call_event(ev.dial_end(None, one, "NOANSWER"))
            self._report_failure(call, reason)
            self.call_event(ev.hangup(one, cause))
            self._hangup_far(call, cause)
        self.finish(call)

    def _answer(self, call: Call, target: tuple[str, str, str]) -> None:
        # human_es: Newstate ;1 Up, DialEnd ANSWER, OriginateResponse 4, Newstate ;2 Up.
        one, two = call.one, call.two
        call.answered_at = self.loop.time()
        if call.script.language != one.language:
            one.set_language(call.script.language)
            if two is not None:
                two.set_language(call.script.language)
        # The captured order of these four varies from run to run (fixtures README,
        # "Newstate"); with ``order_seed`` the OriginateResponse moves among them.
        texts: list[str] = []
        one.set_state(UP)
        texts.append(ev.newstate(one))
        texts.append(ev.dial_end(None, one, "ANSWER"))
        if two is not None:
            two.set_state(UP)
            texts.append(ev.newstate(two))
        if call.report:
            orr = ev.originate_response(
                call.action_id,
                success=True,
                channel=one.name,
                location=call.location,
                reason=4,
                uniqueid=one.uniqueid,
                cid_num=one.cid_num,
                cid_name=one.cid_name,
            )
            at = 2 if self.order_rng is None else self.order_rng.randint(0, len(texts))
            texts.insert(at, orr)
        for text in texts:
            self.call_event(text)
        after = call.script.hangup_after
        self.set_callee_timer(call, math.inf if after is None else after, self.callee_hangup)
        context, exten, application = target
        if application:
            one.app, one.app_data = application, ""
            return
        self.enter(call, context, exten)

    # ------------------------------------------------------------------ dialplan roles

    def enter(self, call: Call, context: str, exten: str) -> None:
        """Run the ``;1`` leg at ``context,exten,1`` (after the answer or a Redirect)."""
        p, one = self.plan, call.one
        one.goto(context, exten, 1)
        if context == p.amd_context:
            call.handler = call.handler or p.hangup_handler
        if context == p.amd_context and exten == p.engine_exten and self.audio is not None:
            self._audiosocket_start(call)
        elif context == p.amd_context and exten == p.engine_exten:
            # Our detector's TryExec(AudioSocket()) without audio to stream: it fails as
            # in as_server_down_tryexec (12 ms) and AMD() decides.
            one.app, one.app_data = "TryExec", "AudioSocket"
            self.later(call, 0.012, self._audiosocket_failed, call)
        elif context == p.amd_context:
            call.in_amd = True
            one.app, one.app_data = "AMD", ""
            self.later(call, call.script.amd_delay or 0.0, self._verdict, call)
        elif context == p.audiosocket_context:
            one.app, one.app_data = "AudioSocket", one.variables.get("AS_UUID", "")
            self.later(call, call.script.amd_delay or 0.0, self._audiosocket_done, call)
        elif context == p.login_context:
            call.agent = exten
            self.user_event(one, "AgentLogin", [("Agent", exten)])
            self.conf_join(call, p.conference_prefix + exten)
        elif context == p.conference_context:
            conf = p.conference_prefix + exten
            b = self.conferences.get(conf)
            if p.conference_guard and not (b and any(self._is_agent(m) for m in b.members)):
                # extensions_dialer.conf: CONFBRIDGE_INFO(parties) < 1 -> NoAgent, abandon.
                self.user_event(one, "NoAgent", [self._ids(call)[1], ("Agent", exten)])
                self._abandon(call)
            else:
                self.conf_join(call, conf)
        elif context == p.route_context and exten == p.abandon_exten:
            self._abandon(call)
        elif context == p.route_context and exten == p.machine_message_exten:
            self._machine_message(call, announce=True)
        elif context == p.route_context:
            self._dial_agent(call, exten)
        else:
            # No such extension: the PBX hangs the channel up (not captured; cause 0 as
            # for a failed application, fixtures README AudioSocket "Status" section).
            self.dialer_hangup(call, 0)

    def _verdict(self, call: Call) -> None:
        # human_es / machine_es: VarSet AMDSTATUS, VarSet AMDCAUSE, UserEvent AMDResult.
        one, s, p = call.one, call.script, self.plan
        status, cause = s.amd_status or "", s.amd_cause or ""
        call.in_amd, call.verdict = False, status
        one.priority = 3
        self.varset(one, "AMDSTATUS", status)
        self.varset(one, "AMDCAUSE", cause)
        extra = [("AMDStatus", status), ("AMDCause", cause)]
        self.user_event(one, "AMDResult", self._ids(call) + extra)
        v = one.variables
        engine = p.engine_routing or v.get("ENGINE_ROUTING") == "1"
        if status == "MACHINE":
            if v.get("LEAVE_VM") == "1":
                self._machine_message(call)
            elif p.engine_routing:
                self.wait(call, p.hold, lambda: self.dialer_hangup(call, 16))
            else:
                self.dialer_hangup(call, 16)
        elif engine:
            # human_es_engine_hold_abandon: Wait(2) for the engine's Redirect, then abandon.
            self.wait(call, p.hold, lambda: self._abandon(call))
        else:
            self._dial_agent(call, v.get("AGENT", p.default_agent))

    def _audiosocket_failed(self, call: Call) -> None:
        one = call.one
        uuid = one.variables.get("DIALER_AS_UUID", "")
        pairs = [*self._ids(call), ("AsUUID", uuid), ("TryStatus", "FAILED")]
        self.varset(one, "TRYSTATUS", "FAILED")
        self.user_event(one, "AudioSocketDone", pairs)
        call.in_amd = True
        one.app, one.app_data = "AMD", ""
        self.later(call, call.script.amd_delay or 0.0, self._verdict, call)

    def _audiosocket_start(self, call: Call) -> None:
        """``TryExec(AudioSocket(${DIALER_AS_UUID},${DIALER_AS}))`` with the call's clip
        streamed to the server (``simulator.ami_audiosocket``)."""
        assert self.audio is not None
        one, p = call.one, self.plan
        text = one.variables.get("DIALER_AS_UUID", "")
        server = one.variables.get("DIALER_AS_SERVER") or p.audiosocket_server
        one.app, one.app_data = "AudioSocket", f"{text},{server}"
        try:
            call_uuid = uuid.UUID(text)
            host, port = parse_server(server)
        except ValueError as exc:
            # as_bad_uuid: no TCP connect; TryExec goes on with FAILED at once (0.3 ms).
            log.warning("AudioSocket on %s: %s", one.name, exc)
            self.later(call, 0.0003, self._audiosocket_failed, call)
            return
        name = call.script.clip
        clip = None if name is None else self.audio.clip(name)
        record = StreamRecord(
            call=one.variables.get(p.call_var, ""),
            as_uuid=text,
            server=server,
            clip=None if clip is None else clip.name,
            label=None if clip is None else clip.label,
        )
        self.streams.append(record)
        task = self.loop.create_task(
            stream_call(
                record,
                host=host,
                port=port,
                call_uuid=call_uuid,
                samples=None if clip is None else self.audio.samples(clip),
                time_scale=self.scale,
                idle_timeout=self.audio_idle_timeout,
            )
        )
        call.plan_timers.append(task)
        task.add_done_callback(lambda t: self._audiosocket_returned(call, t, record))

    def _audiosocket_returned(
        self, call: Call, task: asyncio.Task[StreamEnd], record: StreamRecord
    ) -> None:
        # A task no longer in the plan was cut by a hangup/Redirect: the dialplan moved on.
        if task.cancelled() or call.done or task not in call.plan_timers:
            return
        call.plan_timers.remove(task)
        exc = task.exception()
        if exc is not None:
            log.error("AudioSocket on %s failed inside the emulator: %r", call.one.name, exc)
            self._audiosocket_failed(call)
            return
        end = task.result()
        if end.succeeded:
            self._audiosocket_succeeded(call)
            return
        # Asterisk's own log line for the failure (fixtures README), then the fallback.
        log.info("AudioSocket on %s: %s (%s)", call.one.name, record.detail, end)
        if end is StreamEnd.REFUSED:
            # as_server_down_tryexec: TRYSTATUS=FAILED 12 ms after the app started (a
            # loopback refusal here is immediate; Asterisk reports it ~11 ms later).
            self.later(call, 0.012, self._audiosocket_failed, call)
            return
        self._audiosocket_failed(call)

    def _audiosocket_succeeded(self, call: Call) -> None:
        # extensions_dialer.conf engine,n: UserEvent AudioSocketDone (TryStatus SUCCESS),
        # then dialer-outbound,hold: Wait(DIALER_HOLD) for the engine's Redirect or Hangup;
        # AMDSTATUS is unset after our detector, so a call nobody routed is abandoned.
        one = call.one
        uuid_text = one.variables.get("DIALER_AS_UUID", "")
        self.varset(one, "TRYSTATUS", "SUCCESS")
        pairs = [*self._ids(call), ("AsUUID", uuid_text), ("TryStatus", "SUCCESS")]
        self.user_event(one, "AudioSocketDone", pairs)
        one.goto(self.plan.amd_context, "hold", 1)
        self.wait(call, self.plan.hold, lambda: self._abandon(call))

    def _audiosocket_done(self, call: Call) -> None:
        one = call.one
        uuid = one.variables.get("AS_UUID", "")
        self.user_event(one, "AudioSocketDone", [*self._ids(call), ("AsUUID", uuid)])
        try:
            hold = float(one.variables.get("HOLD", "") or 2.0)
        except ValueError:
            hold = 2.0
        self.wait(call, max(hold, 0.0), lambda: self._hold_expired(call))

    def _hold_expired(self, call: Call) -> None:
        self.user_event(call.one, "HoldExpired", self._ids(call))
        self.dialer_hangup(call, 16)

    def _abandon(self, call: Call) -> None:
        # [dialer-route] abandon: UserEvent Abandoned, Playback(sorry), Hangup(16).
        one = call.one
        one.goto(self.plan.route_context, self.plan.abandon_exten, 1)
        self.user_event(one, "Abandoned", self._ids(call))
        one.app, one.app_data = "Playback", "abandon"
        self.later(call, self.plan.abandon_prompt, self.dialer_hangup, call, 16)

    def _machine_message(self, call: Call, *, announce: bool = False) -> None:
        # machine_en_leave_msg: WaitForSilence until the beep is over, message, Hangup(16).
        # ``announce`` (our dialer-route,machine-message): UserEvent MachineMessage between.
        one = call.one
        if announce:
            one.goto(self.plan.route_context, self.plan.machine_message_exten, 1)
        elapsed = (self.loop.time() - call.answered_at) / self.scale
        beep = call.script.beep_after
        wait = max(0.0, beep - elapsed) if beep is not None else 1.5
        one.app, one.app_data = "WaitForSilence", "1500,1,20"
        if announce:
            self.later(call, wait, self._machine_message_starts, call)
        self.later(call, wait + self.plan.machine_prompt, self.dialer_hangup, call, 16)

    def _machine_message_starts(self, call: Call) -> None:
        self.varset(call.one, "WAITSTATUS", "SILENCE")
        self.user_event(call.one, "MachineMessage", [*self._ids(call), ("WaitStatus", "SILENCE")])
        call.one.app, call.one.app_data = "Playback", "dialer-machine"

    def bridge_action(self, ch1: Channel, ch2: Channel) -> str | None:
        """AMI ``Bridge``: the error text Asterisk gives when a channel is a ConfBridge
        member (conf_agent_bridge_action*), or ``None`` if the two could be bridged.

        Channel1 in a conference: nothing moves. Channel2 in a conference: Channel1 has
        already been pulled out of its Wait() into a basic bridge that is torn down at
        once, and resumes its dialplan at the next priority (the capture's HoldExpired).
        """
        if _in_conference(ch1):
            b = Bridge(self.new_bridge_id(), "basic", "simple_bridge")
            self.loop.call_soon(self._bridge_flash, None, b)
            return f"Unable to add Channel1 to bridge: {ch1.name}"
        if _in_conference(ch2):
            b = Bridge(self.new_bridge_id(), "basic", "simple_bridge")
            call = self.call_of.get(ch1.name)
            pulled = call if call is not None and call.one is ch1 else None
            self.loop.call_soon(self._bridge_flash, pulled, b)
            return f"Unable to add Channel2 to bridge: {ch2.name}"
        return None

    def _bridge_flash(self, call: Call | None, b: Bridge) -> None:
        self.call_event(ev.bridge_event("BridgeCreate", b, None, 0))
        if call is not None and not call.done:
            resume = call.resume
            self.cancel_plan(call)
            self.call_event(ev.bridge_event("BridgeEnter", b, call.one, 1))
            self.call_event(ev.bridge_event("BridgeLeave", b, call.one, 0))
            self.call_event(ev.bridge_event("BridgeDestroy", b, None, 0))
            if resume is not None:
                resume()
            return
        self.call_event(ev.bridge_event("BridgeDestroy", b, None, 0))

    def redirect(self, call: Call, context: str, exten: str) -> None:
        """Move an answered call's ``;1`` leg to ``context,exten,1`` (AMI ``Redirect``)."""
        if call.done:
            return
        self.cancel_plan(call)
        call.in_amd = False  # a Redirect during AMD() ends it without a verdict
        if call.conference is not None:
            self._conf_leave_start(call)
            self._leave_bridges(call, result="")
        elif call.agent_legs is not None:
            self._leave_bridges(call)
            self._agent_two_gone(call)
        self.enter(call, context, exten)
