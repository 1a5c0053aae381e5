"""Bridges and hang-ups of the emulated PBX: Dial to an agent, agent conferences.

Split from ``simulator.ami_flows`` (which extends this class) to keep modules small.
Each flow cites the fixture transcript it reproduces; the conference flows follow the
fixtures README, "Event sequence and timings (conf_agent_redirect)".
"""

from __future__ import annotations

from simulator import ami_events as ev
from simulator.ami_calls import Call, PbxCore
from simulator.ami_events import Bridge, Channel

UP, RING, RINGING, BUSY_STATE, DOWN = 6, 4, 5, 7, 0
_MODELLED_AGENT_DIAL_TIMEOUT = 20.0  # Dial(Local/${AGENT}@agents,20) in extensions.conf
_JOIN = "Admin: No\r\nMuted: No\r\n"


class BridgingPbx(PbxCore):
    """``PbxCore`` plus bridges, conferences and the hang-up sequences."""

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

    def _ids(self, call: Call) -> list[tuple[str, str]]:
        v = call.one.variables
        return [
            ("LeadID", v.get(self.plan.lead_var, "")),
            ("CallID", v.get(self.plan.call_var, "")),
        ]

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
        # human_es: the agent ;1 shows the caller's extension while dialled, then none.
        a1.goto(p.agents_context, one.exten, 1)
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
            a1.goto(p.agents_context, "", 1)
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
            enter = ev.bridge_event("BridgeEnter", b, one)
            # ConfbridgeJoin and BridgeEnter come in either order (README pitfall 3).
            if self.order_rng is not None and self.order_rng.random() < 0.5:
                self.call_event(enter)
                self._conf_joined(conf, b, one)
            else:
                self._conf_joined(conf, b, one)
                self.call_event(enter)
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
                if self.plan.end_marked:
                    # dialer_customer is end_marked: the agent gone, its customers are
                    # put out of the room (after this hang-up's own events).
                    for m in list(b.members):
                        other = self.call_of.get(m.name)
                        if other is not None and other.agent is None:
                            self.loop.call_soon(self._end_marked, other, call.agent)
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

    def _end_marked(self, call: Call, agent: str) -> None:
        if call.done or call.conference is None:
            return
        self.cancel_plan(call)
        self._conf_leave_start(call)
        self._leave_bridges(call, result="ENDMARKED")
        pairs = [self._ids(call)[1], ("Agent", agent), ("ConfbridgeResult", "ENDMARKED")]
        self.user_event(call.one, "CustomerLeftConference", pairs)
        self.dialer_hangup(call, 16)

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
        self._hangup_one(call, 16)
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
        self._hangup_one(call, cause)
        if two is not None:
            self.call_event(ev.hangup_request(two, 16, soft=True))
            self.call_event(ev.hangup(two, 16 if cause else 0))
        self._agent_two_gone(call)
        self.finish(call)

    def _hangup_one(self, call: Call, cause: int) -> None:
        """The ``;1`` Hangup, after its hangup handler when one was pushed."""
        one = call.one
        if call.handler:
            # extensions_dialer.conf [dialer-hangup]: the handler runs before the
            # channel is destroyed, so before its Hangup event.
            extra = [("Cause", str(cause)), ("AMDStatus", one.variables.get("AMDSTATUS", ""))]
            self.user_event(one, "DialerHangup", [*self._ids(call), *extra])
        self.call_event(ev.hangup(one, cause))

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
