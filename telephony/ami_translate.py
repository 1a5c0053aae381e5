"""AMI messages in, our call and presence events out (pure: no IO, no clock).

The adapter (``telephony.ami``) tells the translator what it ordered (``placed``,
``hangup_ordered``, ...) and feeds it every AMI message with the engine time ``now``
(monotonic seconds) at which it was read; the translator answers with the events of
``telephony.events`` and ``telephony.presence``.

It keeps per-call *evidence* (rang, answered at, dial status, Q.850 causes, verdict) and
emits an event the first time the evidence allows it, so it does not depend on the
order in which Asterisk's messages arrive, which varies from run to run (fixtures
README, "Pitfalls for an AMI dialer" 7). What it guarantees, per call, whatever the
input (the contract of ``telephony.events``):

    CallRinging?  ->  CallAnswered | CallFailed;  CallAnswered -> CallBridged? -> CallHungUp

and nothing after the last event. Correlation (README pitfall 1): the Originate's
ActionID (OriginateResponse), the ``;1`` Uniqueid (known in advance with ``ChannelId``,
else learned from a Success OriginateResponse or a ``VarSet`` of our call variable), and
``Linkedid`` for the other legs of the call (``;2``, agent legs).

Where each outcome comes from:
- ringing: ``Newstate`` to Ringing (state 5) of the ``;1`` channel, or ``DialState RINGING``;
- answered: a Success ``OriginateResponse``, ``Newstate`` Up (6) or ``DialEnd ANSWER``
  of the originate leg (README "OriginateResponse": Reason 4);
- verdict: ``UserEvent AMDResult`` (our dialplan), ``VarSet AMDSTATUS`` (needs the
  ``dialplan`` event class), or our own detector via ``engine_verdict``; the first wins.
  An answered call that hangs up with no verdict gets ``HUNG_UP`` (pitfall 4);
- failed: a Failure ``OriginateResponse``: Reason 3 no answer, 5 busy, 8 congestion, 1
  hung up while ringing, 0 anything else (unallocated number, no such extension, or our
  own cancel), refined by DialEnd's ``DialStatus`` and the legs' Hangup causes, never by
  ``;1``'s Hangup cause, which is 0 after busy/congestion (pitfall 2);
- bridged: ``ConfbridgeJoin`` of the call's channel into ``<prefix><agent>``, or a basic
  bridge holding the call and another channel (dialplan ``Dial``/``Queue`` flows);
- hung up: ``Hangup`` of the ``;1`` channel. The side is ENGINE when we (or our dialplan,
  ``UserEvent Abandoned``) ended it, AGENT when the agent kicked the customer out of the
  conference (``CustomerLeftConference`` with ``ConfbridgeResult: KICKED``), else REMOTE.

Agent presence: ``ConfbridgeJoin``/``ConfbridgeLeave``/``ConfbridgeEnd`` of a conference
named ``<prefix><agent>`` by a channel that is not one of our calls. The hidden ``CBAnn``
announcer has no join event, so it never counts (conference pitfall 2).

Memory is bounded: ended calls leave every map; the uids of recently ended calls are kept
(at most ``remember`` of them) only to drop their late events quietly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dialer.ids import AgentId, CallId
from telephony.ami_causes import STATE_RINGING, STATE_UP, fail_cause, to_int, verdict_of
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
from telephony.presence import AgentJoined, AgentLeft, PresenceEvent

Out = CallEvent | PresenceEvent


@dataclass(slots=True)
class _Track:
    """What we know about one call; every field is evidence, order-independent."""

    call: CallId
    action_id: str | None
    uid: str | None
    rang: bool = False
    answered_at: float | None = None
    answer_sent: bool = False
    bridged: bool = False
    ended: bool = False
    hangup_seen: bool = False
    dial_status: str | None = None
    cause: int = 0  # the most telling Q.850 cause on any leg (non-zero wins)
    cancel: bool = False  # we hung up before the answer
    engine_end: bool = False  # we (or our dialplan) ended it
    kicked: bool = False  # the agent kicked the customer out of the conference
    bridge_to: AgentId | None = None  # the agent we redirected the call to
    var_agent: AgentId | None = None  # dialplan ``Dial`` flows: the AGENT variable
    bridge_id: str | None = None


class AmiTranslator:
    """Per-call and per-agent state; ``feed`` is the one entry for AMI messages."""

    def __init__(
        self,
        *,
        call_variables: Iterable[str] = ("DIALER_CALL", "CALLID"),
        agent_variable: str = "AGENT",
        conference_prefix: str = "agent-",
        customer_context: str = "dialer-conf",
        remember: int = 50_000,
    ) -> None:
        if not conference_prefix:
            raise ValueError("conference_prefix must not be empty")
        if remember < 1:
            raise ValueError("remember must be >= 1")
        self._call_vars = frozenset(call_variables)
        self._agent_var = agent_variable
        self._prefix = conference_prefix
        self._customer_ctx = customer_context
        self._remember = remember
        self._calls: dict[CallId, _Track] = {}
        self._by_action: dict[str, _Track] = {}
        self._by_uid: dict[str, _Track] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._settled: OrderedDict[str, None] = OrderedDict()
        # AGENT set on a ;1 before we could bind it (Originate without ChannelId).
        self._early_agent: OrderedDict[str, AgentId] = OrderedDict()
        self.strays: list[str] = []  # uids of channels that appeared after we settled them
        self._agent_of_chan: dict[str, AgentId] = {}
        self._present: dict[AgentId, set[str]] = {}
        self._handlers = {
            "OriginateResponse": self._originate_response,
            "Newstate": self._newstate,
            "DialState": self._dial_state,
            "DialEnd": self._dial_end,
            "Hangup": self._hangup,
            "VarSet": self._varset,
            "UserEvent": self._user_event,
            "ConfbridgeJoin": self._conf_join,
            "ConfbridgeLeave": self._conf_leave,
            "ConfbridgeEnd": self._conf_end,
            "BridgeEnter": self._bridge_enter,
            "Newchannel": self._newchannel,
        }

    # ------------------------------------------------------------------ orders

    def placed(self, call: CallId, *, action_id: str, unique_id: str | None = None) -> None:
        """An Originate for ``call`` is about to be sent with ``action_id`` (and, with
        ``ChannelId``, the ``;1`` channel's ``unique_id``)."""
        if call in self._calls:
            raise ValueError(f"call {call!r} is already placed")
        t = _Track(call, action_id, unique_id)
        self._calls[call] = t
        self._by_action[action_id] = t
        if unique_id is not None:
            self._by_uid[unique_id] = t

    def hangup_ordered(self, call: CallId) -> None:
        t = self._calls.get(call)
        if t is not None:
            t.engine_end = True
            if t.answered_at is None and not t.answer_sent:
                t.cancel = True

    def message_ordered(self, call: CallId) -> None:
        t = self._calls.get(call)
        if t is not None:
            t.engine_end = True

    def bridge_ordered(self, call: CallId, agent: AgentId) -> None:
        t = self._calls.get(call)
        if t is not None:
            t.bridge_to = agent

    def engine_verdict(self, call: CallId, verdict: AmdVerdict, now: float) -> list[Out]:
        """Our own detector decided (AudioSocket server callback)."""
        t = self._calls.get(call)
        out: list[Out] = []
        if t is not None:
            self._verdict(t, verdict, now, out)
        return out

    # ------------------------------------------------------------------ queries

    def is_open(self, call: CallId) -> bool:
        return call in self._calls

    def open_calls(self) -> dict[CallId, str | None]:
        """Calls without their last event yet, with their ``;1`` uid when known."""
        return {c: t.uid for c, t in self._calls.items()}

    def unique_id(self, call: CallId) -> str | None:
        t = self._calls.get(call)
        return None if t is None else t.uid

    def verdict_sent(self, call: CallId) -> bool:
        t = self._calls.get(call)
        return t is not None and t.answer_sent

    def awaiting_verdict(self) -> dict[CallId, str]:
        """Answered calls with no verdict reported yet, with their ``;1`` uid."""
        return {
            c: t.uid
            for c, t in self._calls.items()
            if t.uid is not None and t.answered_at is not None and not t.answer_sent
        }

    def present(self, agent: AgentId) -> bool:
        return bool(self._present.get(agent))

    def present_agents(self) -> frozenset[AgentId]:
        return frozenset(a for a, chans in self._present.items() if chans)

    # ------------------------------------------------------------------ settling

    def settle(self, call: CallId, now: float) -> list[Out]:
        """The call's channel is gone and its outcome was never reported (connection
        lost, PBX restarted): close it with what the evidence says, exactly once."""
        t = self._calls.get(call)
        out: list[Out] = []
        if t is None:
            return out
        if t.answer_sent or t.answered_at is not None:
            self._hungup(t, now, out)
        else:
            cause = FailCause.CANCELLED if t.cancel else FailCause.ERROR
            self._fail(t, cause, now, out)
        if t.uid is not None:
            _remember(self._settled, t.uid, self._remember)
        return out

    def reconcile(
        self,
        live: Mapping[str, Mapping[str, str]],
        now: float,
        *,
        calls: Iterable[CallId] | None = None,
    ) -> list[Out]:
        """After a reconnect: ``live`` is ``CoreShowChannel`` entries by Uniqueid.

        Calls (all open ones, or only ``calls``: never one placed after the channel list
        was asked for, whose channel may not exist yet) whose channel is gone are
        settled; agents whose conference channel is gone have left; agent channels
        running ``ConfBridge(<prefix>...)`` that we did not know (joined while we were
        away) have joined.
        """
        out: list[Out] = []
        check = list(self._calls) if calls is None else [c for c in calls if c in self._calls]
        for call in check:
            uid = self._calls[call].uid
            if uid is None or uid not in live:
                out.extend(self.settle(call, now))
            else:
                entry = live[uid]
                if entry.get("ChannelState") == STATE_UP:
                    t = self._calls[call]
                    if t.answered_at is None:
                        t.answered_at = now
        for chan in list(self._agent_of_chan):
            if chan not in live:
                self._agent_leaves(chan, now, out)
                del self._agent_of_chan[chan]
        for uid, entry in live.items():
            if uid in self._agent_of_chan or uid in self._by_uid:
                continue
            if entry.get("Application", "").lower() != "confbridge":
                continue
            room = entry.get("ApplicationData", "").split(",", 1)[0]
            if room.startswith(self._prefix) and entry.get("Context") != self._customer_ctx:
                self._agent_joins(uid, AgentId(room[len(self._prefix) :]), now, out)
        return out

    # ------------------------------------------------------------------ feeding

    def feed(self, msg: Mapping[str, str], now: float) -> list[Out]:
        """One AMI message (event or response) read at ``now``."""
        out: list[Out] = []
        event = msg.get("Event")
        if event is None:
            if msg.get("Response") in ("Error", "Failure"):
                t = self._by_action.get(msg.get("ActionID", ""))
                if t is not None:  # the Originate action itself was refused
                    self._fail(t, FailCause.ERROR, now, out)
            return out
        handler = self._handlers.get(event)
        if handler is not None:
            handler(msg, now, out)
        return out

    def _track(self, msg: Mapping[str, str]) -> _Track | None:
        """The call this channel event belongs to (by its own uid, then its Linkedid)."""
        t = self._by_uid.get(msg.get("Uniqueid", ""))
        if t is None:
            t = self._by_uid.get(msg.get("Linkedid", ""))
        return t

    def _newchannel(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        uid = msg.get("Uniqueid", "")
        if uid in self._settled and uid not in self._by_uid:
            self.strays.append(uid)  # a call we gave up on turned up after all

    def _originate_response(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        t = self._by_action.get(msg.get("ActionID", ""))
        if t is None:
            t = self._by_uid.get(msg.get("Uniqueid", ""))
        if t is None or t.ended:
            return
        uid = msg.get("Uniqueid", "")
        if t.uid is None and uid and uid != "<unknown>":
            self._bind(t, uid)
        if msg.get("Response") == "Success":
            if t.answered_at is None:
                t.answered_at = now
            if t.hangup_seen:  # answered, and already gone before this arrived
                self._hungup(t, now, out)
            return
        reason = to_int(msg.get("Reason"))
        cause = fail_cause(reason, dial_status=t.dial_status, cause=t.cause, cancelled=t.cancel)
        self._fail(t, cause, now, out)

    def _newstate(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        t = self._by_uid.get(msg.get("Uniqueid", ""))
        if t is None:
            return
        state = msg.get("ChannelState")
        if state == STATE_RINGING:
            self._ring(t, now, out)
        elif state == STATE_UP and t.answered_at is None:
            t.answered_at = now

    def _dial_state(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        t = self._by_uid.get(msg.get("DestUniqueid", ""))
        if t is not None and msg.get("DialStatus") == "RINGING":
            self._ring(t, now, out)

    def _dial_end(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        # Only the originate leg: its DestUniqueid is the call's ;1 (README "Channel events").
        t = self._by_uid.get(msg.get("DestUniqueid", ""))
        if t is None:
            return
        status = msg.get("DialStatus", "")
        t.dial_status = status
        if status == "ANSWER" and t.answered_at is None:
            t.answered_at = now

    def _hangup(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        uid = msg.get("Uniqueid", "")
        if uid in self._agent_of_chan:
            self._agent_leaves(uid, now, out)
            del self._agent_of_chan[uid]
            return
        t = self._track(msg)
        if t is None or t.ended:
            return
        cause = to_int(msg.get("Cause"))
        if cause:
            t.cause = cause
        if uid != t.uid:
            return  # another leg (;2, an agent leg): its cause is evidence, nothing more
        t.hangup_seen = True
        if t.answer_sent or t.answered_at is not None:
            self._hungup(t, now, out)
        # Never answered: the Failure OriginateResponse says why (it may come later).

    def _varset(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        var = msg.get("Variable", "")
        uid = msg.get("Uniqueid", "")
        t = self._by_uid.get(uid)
        if t is None:
            if var in self._call_vars and uid and uid == msg.get("Linkedid"):
                found = self._calls.get(CallId(msg.get("Value", "")))
                if found is not None and found.uid is None:
                    self._bind(found, uid)  # Originate without ChannelId: learn the ;1 uid
            elif var == self._agent_var and uid and uid == msg.get("Linkedid"):
                self._early_agent[uid] = AgentId(msg.get("Value", ""))
                if len(self._early_agent) > 1024:
                    self._early_agent.popitem(last=False)
            return
        if var == "AMDSTATUS":
            verdict = verdict_of(msg.get("Value", ""))
            if verdict is not None:
                self._verdict(t, verdict, now, out)
        elif var == self._agent_var and msg.get("Value"):
            t.var_agent = AgentId(msg.get("Value", ""))

    def _user_event(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        # Only from the call's own channel: a CallID header alone could be sent by any
        # dialplan or AMI client on the PBX (a spoofed verdict).
        t = self._by_uid.get(msg.get("Uniqueid", ""))
        if t is None:
            return
        kind = msg.get("UserEvent", "")
        if kind == "AMDResult":
            verdict = verdict_of(msg.get("AMDStatus", ""))
            if verdict is not None:
                self._verdict(t, verdict, now, out)
        elif kind in ("Abandoned", "MachineMessage"):
            t.engine_end = True
        elif kind == "CustomerLeftConference" and msg.get("ConfbridgeResult") == "KICKED":
            t.kicked = True

    def _conf_join(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        room = msg.get("Conference", "")
        if not room.startswith(self._prefix):
            return
        agent = AgentId(room[len(self._prefix) :])
        uid = msg.get("Uniqueid", "")
        t = self._by_uid.get(uid)
        if t is not None:
            self._bridged(t, agent, now, out)
        elif msg.get("Context") != self._customer_ctx and uid not in self._closed:
            self._agent_joins(uid, agent, now, out)

    def _conf_leave(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        uid = msg.get("Uniqueid", "")
        if uid in self._agent_of_chan:
            self._agent_leaves(uid, now, out)
            del self._agent_of_chan[uid]

    def _conf_end(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        room = msg.get("Conference", "")
        if not room.startswith(self._prefix):
            return
        agent = AgentId(room[len(self._prefix) :])
        for chan in list(self._present.get(agent, ())):
            self._agent_leaves(chan, now, out)
            self._agent_of_chan.pop(chan, None)

    def _bridge_enter(self, msg: Mapping[str, str], now: float, out: list[Out]) -> None:
        if msg.get("BridgeTechnology") == "softmix":
            return  # a conference: ConfbridgeJoin says which agent
        t = self._track(msg)
        if t is None or t.ended:
            return
        bridge = msg.get("BridgeUniqueid", "")
        if msg.get("Uniqueid") == t.uid:
            t.bridge_id = bridge
        if t.bridge_id == bridge and to_int(msg.get("BridgeNumChannels")) >= 2:
            agent = t.bridge_to or t.var_agent or AgentId("unknown")
            self._bridged(t, agent, now, out)

    # ------------------------------------------------------------------ emitting

    def _bind(self, t: _Track, uid: str) -> None:
        t.uid = uid
        self._by_uid[uid] = t
        early = self._early_agent.pop(uid, None)
        if early and t.var_agent is None:
            t.var_agent = early

    def _ring(self, t: _Track, now: float, out: list[Out]) -> None:
        if not (t.rang or t.answer_sent or t.ended or t.answered_at is not None):
            t.rang = True
            out.append(CallRinging(t.call, now))

    def _verdict(self, t: _Track, verdict: AmdVerdict, now: float, out: list[Out]) -> None:
        if t.answer_sent or t.ended:
            return
        t.answer_sent = True
        answered = t.answered_at if t.answered_at is not None else now
        t.answered_at = answered
        out.append(CallAnswered(t.call, now, verdict, answered))
        if t.hangup_seen:
            self._hungup(t, now, out)

    def _bridged(self, t: _Track, agent: AgentId, now: float, out: list[Out]) -> None:
        if t.bridged or t.ended or not t.answer_sent:
            return
        t.bridged = True
        out.append(CallBridged(t.call, now, agent))

    def _fail(self, t: _Track, cause: FailCause, now: float, out: list[Out]) -> None:
        if t.ended or t.answer_sent:
            return
        out.append(CallFailed(t.call, now, cause))
        self._close(t)

    def _hungup(self, t: _Track, now: float, out: list[Out]) -> None:
        if t.ended:
            return
        if not t.answer_sent:
            self._verdict_hung_up(t, now, out)
        if t.engine_end:
            side = HangupSide.ENGINE
        elif t.kicked:
            side = HangupSide.AGENT
        else:
            side = HangupSide.REMOTE
        out.append(CallHungUp(t.call, now, side))
        self._close(t)

    def _verdict_hung_up(self, t: _Track, now: float, out: list[Out]) -> None:
        t.answer_sent = True
        answered = t.answered_at if t.answered_at is not None else now
        out.append(CallAnswered(t.call, now, AmdVerdict.HUNG_UP, answered))

    def _close(self, t: _Track) -> None:
        t.ended = True
        self._calls.pop(t.call, None)
        if t.action_id is not None:
            self._by_action.pop(t.action_id, None)
        if t.uid is not None:
            self._by_uid.pop(t.uid, None)
            _remember(self._closed, t.uid, self._remember)

    # ------------------------------------------------------------------ agents

    def _agent_joins(self, chan: str, agent: AgentId, now: float, out: list[Out]) -> None:
        if chan in self._agent_of_chan:
            return
        self._agent_of_chan[chan] = agent
        chans = self._present.setdefault(agent, set())
        if not chans:
            out.append(AgentJoined(agent, now))
        chans.add(chan)

    def _agent_leaves(self, chan: str, now: float, out: list[Out]) -> None:
        agent = self._agent_of_chan.get(chan)
        if agent is None:
            return
        chans = self._present.get(agent)
        if chans is None or chan not in chans:
            return
        chans.discard(chan)
        if not chans:
            del self._present[agent]
            out.append(AgentLeft(agent, now))


def _remember(seen: OrderedDict[str, None], uid: str, limit: int) -> None:
    seen[uid] = None
    if len(seen) > limit:
        seen.popitem(last=False)
