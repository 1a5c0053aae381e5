"""The call flows of the emulated PBX: what each outcome and dialplan role emits, when.

Each flow cites the fixture transcript whose event sequence it reproduces
(``shared/fixtures/asterisk-ami/transcripts/<name>.txt``; ``key_events.txt`` digests
them). A trunk channel (any technology but ``Local``) has no ``;2`` half: its events
are left out and the ``;1`` Hangup carries the far end's real cause.
"""

from __future__ import annotations

import math

from simulator import ami_events as ev
from simulator.ami_calls import Call, PbxCore
from simulator.ami_events import Bridge, Channel
from simulator.ami_scripts import FAILURES, CallScript, Outcome

UP, RING, RINGING, BUSY_STATE, DOWN = 6, 4, 5, 7, 0
_MODELLED_AGENT_DIAL_TIMEOUT = 20.0  # Dial(Local/${AGENT}@agents,20) in extensions.conf


def parse_callerid(value: str) -> tuple[str, str]:
    """``"Dialer" <5550100>`` -> (``5550100``, ``Dialer``); a bare number is its own name."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].rpartition("<")
        name = name.strip().strip('"')
        return num.strip() or ev.UNKNOWN, name or ev.UNKNOWN
    return (value, value) if value else (ev.UNKNOWN, ev.UNKNOWN)


class Pbx(PbxCore):
    """``PbxCore`` plus the flows; the AMI server calls the public methods below."""

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
        if s.outcome is Outcome.NONEXISTENT:
            # nonexistent_extension: ;2 finds no extension; no Dial events at all.
            if two is not None:
                self.call_event(ev.hangup(two, 0))
            self._report_failure(call, 0)
            self.call_event(ev.hangup(one, 0))
            self.finish(call)
            return call
        for name, value in reversed(variables):  # captured in reverse order on ;1
            self.varset(one, name, value)
        if two is not None:
            for name, value in variables:
                self.varset(two, name, value)
        num, name = parse_callerid(caller_id)
        one.set_callerid(num, name, num, name)
        if two is not None:
            two.set_callerid(num, name, num, name)
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

    def _report_failure(self, call: Call, reason: int) -> None:
        if call.report:
            self.call_event(
                ev.originate_response(
                    call.action_id,
                    success=False,
                    channel=call.dial_string,
                    location=call.location,
                    reason=reason,
                    uniqueid=call.reported_uid or ev.UNKNOWN,
                    cid_num=call.one.cid_num,
                    cid_name=call.one.cid_name,
                )
            )

    def _hangup_far(self, call: Call, cause: int) -> None:
        """Hangup of the ``;2`` half, or nothing for a single-leg trunk channel."""
        if call.two is not None:
            self.call_event(ev.hangup(call.two, cause))

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
        one.set_state(UP)
        self.call_event(ev.newstate(one))
        self.call_event(ev.dial_end(None, one, "ANSWER"))
        if call.report:
            self.call_event(
                ev.originate_response(
                    call.action_id,
                    success=True,
                    channel=one.name,
                    location=call.location,
                    reason=4,
                    uniqueid=one.uniqueid,
                    cid_num=one.cid_num,
                    cid_name=one.cid_name,
                )
            )
        if two is not None:
            two.set_state(UP)
            self.call_event(ev.newstate(two))
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
            self.conf_join(call, p.conference_prefix + exten)
        elif context == p.route_context and exten == p.abandon_exten:
            self._abandon(call)
        elif context == p.route_context and exten == p.machine_message_exten:
            self._machine_message(call)
        elif context == p.route_context:
            self._dial_agent(call, exten)
        else:
            # No such extension: the PBX hangs the channel up (not captured; cause 0 as
            # for a failed application, fixtures README AudioSocket "Status" section).
            self.dialer_hangup(call, 0)

    def _ids(self, call: Call) -> list[tuple[str, str]]:
        v = call.one.variables
        return [
            ("LeadID", v.get(self.plan.lead_var, "")),
            ("CallID", v.get(self.plan.call_var, "")),
        ]

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
                one.app, one.app_data = "Wait", str(p.hold)
                self.later(call, p.hold, self.dialer_hangup, call, 16)
            else:
                self.dialer_hangup(call, 16)
        elif engine:
            # human_es_engine_hold_abandon: Wait(2) for the engine's Redirect, then abandon.
            one.app, one.app_data = "Wait", str(p.hold)
            self.later(call, p.hold, self._abandon, call)
        else:
            self._dial_agent(call, v.get("AGENT", p.default_agent))

    def _audiosocket_done(self, call: Call) -> None:
        one = call.one
        uuid = one.variables.get("AS_UUID", "")
        self.user_event(one, "AudioSocketDone", [*self._ids(call), ("AsUUID", uuid)])
        try:
            hold = float(one.variables.get("HOLD", "") or 2.0)
        except ValueError:
            hold = 2.0
        one.app, one.app_data = "Wait", str(hold)
        self.later(call, max(hold, 0.0), self._hold_expired, call)

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

    def _machine_message(self, call: Call) -> None:
        # machine_en_leave_msg: WaitForSilence until the beep is over, message, Hangup(16).
        one = call.one
        elapsed = (self.loop.time() - call.answered_at) / self.scale
        beep = call.script.beep_after
        wait = max(0.0, beep - elapsed) if beep is not None else 1.5
        one.app, one.app_data = "WaitForSilence", "1500,1,20"
        self.later(call, wait + self.plan.machine_prompt, self.dialer_hangup, call, 16)

    # ------------------------------------------------------------------ Dial to an agent

    def _dial_agent(self, call: Call, agent: str) -> None:
        # human_es: the agent leg is Local/<agent>@agents; it answers and is bridged.
        p, one = self.plan, call.one
        base = f"Local/{agent}@{p.agents_context}-{self.next_local():08x}"
        now = self.loop.time()
        a1 = Channel(
            base + ";1", self.new_uid(), one.linkedid, state=DOWN, context=p.agents_context,
            exten=agent, created=now,
        )  # fmt: skip
        a2 = Channel(
            base + ";2", self.new_uid(), one.linkedid, state=RING, context=p.agents_context,
            exten=agent, created=now,
        )  # fmt: skip
        self.call_event(ev.newchannel(a1))
        self.call_event(ev.newchannel(a2))
        # README pitfall 9: on the agent leg, CallerIDNum is the dialer's extension.
        a1.set_callerid(one.exten, one.cid_name, one.cid_num, one.cid_name)
        a2.set_callerid(one.cid_num, one.cid_name, one.exten, one.cid_name)
        self.add_channel(call, a1)
        self.add_channel(call, a2)
        call.agent_legs = (a1, a2)
        one.app, one.app_data = "Dial", f"Local/{agent}@{p.agents_context},20"
        self.call_event(ev.dial_begin(one, a1, f"{agent}@{p.agents_context}"))
        if agent == "agentbusy":  # human_agent_busy
            self._agent_failed(call, "BUSY", 17)
        elif agent == "agentnoanswer":
            a1.set_state(RINGING)
            self.call_event(ev.newstate(a1))
            self.call_event(ev.dial_state(one, a1, "RINGING"))
            self.later(call, _MODELLED_AGENT_DIAL_TIMEOUT, self._agent_failed, call, "NOANSWER", 19)
        else:
            a2.set_state(UP)
            self.call_event(ev.newstate(a2))
            a1.set_state(UP)
            self.call_event(ev.newstate(a1))
            self.call_event(ev.dial_end(one, a1, "ANSWER"))
            b = Bridge(self.new_bridge_id(), "basic", "simple_bridge")
            self.call_event(ev.bridge_event("BridgeCreate", b))
            for ch in (a1, one):
                b.members.append(ch)
                ch.bridge = b
                self.call_event(ev.bridge_event("BridgeEnter", b, ch))
            self.connected(call)

    def _agent_failed(self, call: Call, status: str, cause: int) -> None:
        assert call.agent_legs is not None
        a1, a2 = call.agent_legs
        one = call.one
        if status == "BUSY":
            a2.set_state(BUSY_STATE)
            self.call_event(ev.newstate(a2))
        self.call_event(ev.dial_end(one, a1, status))
        self.call_event(ev.hangup_request(a2, 0, soft=False))
        self.call_event(ev.hangup(a1, 0))
        self.call_event(ev.hangup_request(a2, 16, soft=True))
        self.call_event(ev.hangup(a2, cause))
        self.drop_channel(a1)
        self.drop_channel(a2)
        call.agent_legs = None
        self.user_event(one, "AgentDialEnd", [*self._ids(call), ("DialStatus", status)])
        one.app, one.app_data = "Playback", "sorry"
        self.later(call, self.plan.abandon_prompt, self.dialer_hangup, call, 16)

    def connected(self, call: Call) -> None:
        """The person now hears an agent: from here they talk ``talk`` seconds."""
        if call.connected:
            return
        call.connected = True
        if call.script.talk is not None:
            self.set_callee_timer(call, call.script.talk, self.callee_hangup)

    # ------------------------------------------------------------------ conferences

    def conf_join(self, call: Call, conf: str) -> None:
        # conf_agent_redirect: the first join creates the softmix bridge (BridgeCreate,
        # BridgeEnter, ConfbridgeStart, ConfbridgeJoin); later joins only Join + Enter.
        one = call.one
        one.app, one.app_data = "ConfBridge", conf
        b = self.conferences.get(conf)
        if b is None:
            b = Bridge(self.new_bridge_id(), "base", "softmix", "ConfBridge", conf, hidden=1)
            self.conferences[conf] = b
            self.call_event(ev.bridge_event("BridgeCreate", b, None, 0))
            b.members.append(one)
            one.bridge = b
            self.call_event(ev.bridge_event("BridgeEnter", b, one))
            self.call_event(ev.confbridge_event("ConfbridgeStart", conf, b, None, 1))
            self._conf_joined(conf, b, one)
        else:
            b.members.append(one)
            one.bridge = b
            self._conf_joined(conf, b, one)
            self.call_event(ev.bridge_event("BridgeEnter", b, one))
        call.conference = conf
        if call.agent is not None:
            self.agents[call.agent] = call
            call.connected = True
            for m in b.members:  # customers already waiting now hear the agent
                other = self.call_of.get(m.name)
                if other is not None and other.agent is None:
                    self.connected(other)
        elif any(self._is_agent(m) for m in b.members):
            self.connected(call)

    def _conf_joined(self, conf: str, b: Bridge, ch: Channel) -> None:
        self.call_event(ev.confbridge_event("ConfbridgeJoin", conf, b, ch, b.count, tail=_JOIN))

    def _is_agent(self, ch: Channel) -> bool:
        c = self.call_of.get(ch.name)
        return c is not None and c.agent is not None

    def _conf_leave_start(self, call: Call) -> None:
        b = call.one.bridge
        if call.conference is not None and b is not None:
            tail = "Admin: No\r\n"
            self.call_event(
                ev.confbridge_event(
                    "ConfbridgeLeave", call.conference, b, call.one, b.count, tail=tail
                )
            )

    def _leave_bridges(self, call: Call, *, result: str = "HANGUP") -> None:
        """BridgeLeave (and the end of a conference or Dial bridge) for the ``;1`` leg."""
        one = call.one
        b = one.bridge
        if b is not None and call.conference is not None:
            conf = call.conference
            if one in b.members:
                b.members.remove(one)
            one.bridge = None
            self.call_event(ev.bridge_event("BridgeLeave", b, one))
            if result:
                self.varset(one, "CONFBRIDGE_RESULT", result)
            if not b.members:
                # The last one out ends the conference (conf_agent_redirect logout).
                self.call_event(ev.confbridge_event("ConfbridgeEnd", conf, b, None, 1))
                self.call_event(ev.bridge_event("BridgeDestroy", b, None, 0))
                self.conferences.pop(conf, None)
            if call.agent is not None and self.agents.get(call.agent) is call:
                del self.agents[call.agent]
            call.conference = None
        elif b is not None and call.agent_legs is not None:
            # human_es: BridgeLeave ;1, BridgeLeave agent ;1, agent leg hung up, destroy.
            a1, a2 = call.agent_legs
            for ch in (one, a1):
                if ch in b.members:
                    b.members.remove(ch)
                ch.bridge = None
                self.call_event(ev.bridge_event("BridgeLeave", b, ch))
            self.call_event(ev.hangup_request(a2, 16, soft=False))
            self.call_event(ev.hangup(a1, 16))
            self.call_event(ev.bridge_event("BridgeDestroy", b))
            self.drop_channel(a1)

    def _agent_two_gone(self, call: Call) -> None:
        if call.agent_legs is not None:
            a2 = call.agent_legs[1]
            self.call_event(ev.hangup_request(a2, 16, soft=True))
            self.call_event(ev.hangup(a2, 16))
            self.drop_channel(a2)
            call.agent_legs = None

    # ------------------------------------------------------------------ hang-ups

    def callee_hangup(self, call: Call) -> None:
        """The far end (or an agent's phone, for a login call) hangs up."""
        if call.done:
            return
        self.cancel_plan(call)
        one, two = call.one, call.two
        self._conf_leave_start(call)
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=True))
        self.call_event(ev.hangup_request(one, 16, soft=False))
        if two is not None:
            self.call_event(ev.hangup(two, 16))
        if call.in_amd:
            # answer_hangup: AMD reports HANGUP with an empty cause, and no UserEvent.
            call.in_amd = False
            self.varset(one, "AMDSTATUS", "HANGUP")
            self.varset(one, "AMDCAUSE", "")
        self._leave_bridges(call)
        self.call_event(ev.hangup_request(one, 16, soft=True))
        self.call_event(ev.hangup(one, 16))
        self._agent_two_gone(call)
        self.finish(call)

    def dialer_hangup(self, call: Call, cause: int = 16) -> None:
        """The ``;1`` leg hangs up: dialplan ``Hangup()`` or AMI ``Hangup`` when answered."""
        if call.done:
            return
        self.cancel_plan(call)
        one, two = call.one, call.two
        self.call_event(ev.hangup_request(one, 16, soft=True))
        self._conf_leave_start(call)
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=False))
        self._leave_bridges(call)
        self.call_event(ev.hangup(one, cause))
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=True))
            self.call_event(ev.hangup(two, 16 if cause else 0))
        self._agent_two_gone(call)
        self.finish(call)

    def cancel_ringing(self, call: Call) -> None:
        # noanswer_cancel_channelid: AMI Hangup while ringing gives Reason 0, not 1.
        one, two = call.one, call.two
        self.cancel_plan(call)
        self.call_event(ev.dial_end(None, one, "NOANSWER"))
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=False))
        self._report_failure(call, 0)
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=True))
        self._hangup_far(call, 16)
        self.call_event(ev.hangup(one, 16))
        self.finish(call)

    def hangup_channel(self, ch: Channel, cause: int) -> None:
        """AMI ``Hangup`` of ``ch``: whichever side it is, end its call as Asterisk would."""
        call = self.call_of.get(ch.name)
        if call is None or call.done:
            return
        if not call.answered:
            self.cancel_ringing(call)
        elif ch is call.two:
            self.callee_hangup(call)  # conf_agent_redirect logout: Hangup of the phone ;2
        else:
            # ;1, or an agent leg: the Dial ends and the harness dialplan hangs up.
            self.dialer_hangup(call, cause)

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


_JOIN = "Admin: No\r\nMuted: No\r\n"
