"""Agent presence drives logins (``dialer.runner`` with a backend that has ``presence()``).

The AMI backend reports agents joining and leaving their conference; the runner logs them
in and out. An agent who leaves in the middle of a call is logged out when the call lets
go of them (their state machine has no ON_CALL -> OFFLINE move).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agents.state import AgentState
from simulator.loop import VirtualTimeLoop
from telephony.presence import AgentJoined, AgentLeft, AgentPresence, PresenceEvent
from telephony.scripted import Script, ScriptedTelephony
from telephony.stream import EventStream
from tests.test_runner import A, B, Rig, ScheduledPacer

HUMAN = Script(fate="human", ring=3.0, decision=1.0, talk=30.0)


class PresenceTelephony(ScriptedTelephony):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__(default=HUMAN, loop=loop)
        self.joins: EventStream[PresenceEvent] = EventStream()

    def presence(self) -> AsyncIterator[PresenceEvent]:
        return self.joins


def test_the_protocol_check_tells_backends_apart(loop: VirtualTimeLoop) -> None:
    assert isinstance(PresenceTelephony(loop), AgentPresence)
    assert not isinstance(ScriptedTelephony(loop=loop), AgentPresence)


def test_joining_logs_in_and_the_agent_gets_the_call(loop: VirtualTimeLoop) -> None:
    tel = PresenceTelephony(loop)
    rig = Rig(loop, pacer=ScheduledPacer([(5.0, 1)]), telephony=tel)
    rig.at(1.0, tel.joins.put, AgentJoined(A, 1.0))
    rig.at(1.5, tel.joins.put, AgentJoined(A, 1.5))  # a second phone: no second login
    rig.run(until=20.0)
    assert rig.bridges() == [("c1", A)]
    assert [s for _, a, s, _ in rig.agent_log if a == A][:2] == [
        AgentState.READY,
        AgentState.ON_CALL,
    ]


def test_leaving_while_ready_logs_out_and_rejoining_logs_back_in(loop: VirtualTimeLoop) -> None:
    tel = PresenceTelephony(loop)
    rig = Rig(loop, pacer=ScheduledPacer([]), telephony=tel)
    rig.at(1.0, tel.joins.put, AgentJoined(B, 1.0))
    rig.at(2.0, tel.joins.put, AgentLeft(B, 2.0))
    rig.at(3.0, tel.joins.put, AgentLeft(B, 3.0))  # already out: nothing
    rig.at(4.0, tel.joins.put, AgentJoined(B, 4.0))
    rig.run(until=10.0)
    states = [(t, s) for t, a, s, _ in rig.agent_log if a == B]
    assert states == [
        (1.0, AgentState.READY),
        (2.0, AgentState.OFFLINE),
        (4.0, AgentState.READY),
    ]


def test_leaving_mid_call_logs_out_when_the_call_ends(loop: VirtualTimeLoop) -> None:
    tel = PresenceTelephony(loop)
    rig = Rig(loop, pacer=ScheduledPacer([(5.0, 1)]), telephony=tel)
    rig.at(1.0, tel.joins.put, AgentJoined(A, 1.0))
    rig.at(12.0, tel.joins.put, AgentLeft(A, 12.0))  # talking since ~9.2
    rig.run(until=60.0)
    states = [s for _, a, s, _ in rig.agent_log if a == A]
    assert states[-3:] == [AgentState.ON_CALL, AgentState.WRAPUP, AgentState.OFFLINE]
    assert rig.runner.agents[A].state is AgentState.OFFLINE
    assert rig.runner.stats.connected == 1
