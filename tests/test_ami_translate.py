"""Every real Asterisk transcript, replayed through the AMI parser and translator.

Expectations come from the fixtures README's scenario tables (OR Reason, AMDSTATUS,
DialEnd, Bridged columns). In the AudioSocket captures (``as_*``, ``conf_*``) the verdict
came from our server, not over AMI; the replay gives it when the dialplan reported the
stream done, as the engine's AudioSocket callback would.
"""

from __future__ import annotations

import pytest

from dialer.ids import AgentId, CallId
from telephony.ami_causes import fail_cause, verdict_of
from telephony.ami_translate import AmiTranslator, Out
from telephony.events import (
    AmdVerdict,
    CallAnswered,
    CallBridged,
    CallFailed,
    CallHungUp,
    CallRinging,
    FailCause,
)
from telephony.presence import AgentJoined, AgentLeft
from tests.ami_fixtures import transcript_names
from tests.ami_replay import replay

V = AmdVerdict
ENGINE = {
    "as_human": V.HUMAN,
    "as_machine": V.MACHINE,
    "as_fax": V.FAX,
    "as_silence": V.NOT_SURE,
    "as_dtmf": V.HUMAN,
    "as_nomedia_keepalive": V.NOT_SURE,
    "conf_": V.HUMAN,
}

# One row per transcript: the events, in order, as short words.
EXPECTED: dict[str, list[str]] = {
    "answer_hangup": ["answered:hung_up", "hungup:remote"],
    # Plain AudioSocket() failing hangs the call up (Cause 0) with no verdict.
    "as_bad_uuid": ["answered:hung_up", "hungup:remote"],
    "as_callee_hangup": ["answered:hung_up", "hungup:remote"],
    "as_dtmf": ["answered:human", "hungup:remote"],
    "as_error_frame": ["answered:hung_up", "hungup:remote"],
    "as_error_frame_tryexec": ["answered:human", "hungup:remote"],  # AMD() fallback
    "as_fax": ["answered:fax", "hungup:remote"],
    "as_human_en_hangupframe": ["answered:human", "hungup:remote"],
    "as_human_en_ulaw": ["answered:human", "hungup:remote"],
    "as_human_es": ["answered:human", "hungup:remote"],
    "as_human_es_alaw": ["answered:human", "hungup:remote"],
    "as_human_es_beep": ["answered:human", "hungup:remote"],
    "as_human_es_ulaw": ["answered:human", "hungup:remote"],
    "as_machine_en": ["answered:machine", "hungup:remote"],
    "as_machine_es": ["answered:machine", "hungup:remote"],
    "as_nomedia": ["answered:hung_up", "hungup:remote"],
    "as_nomedia_keepalive": ["answered:not_sure", "hungup:remote"],
    "as_redirect_during": ["answered:hung_up", "hungup:remote"],
    "as_server_down": ["answered:hung_up", "hungup:remote"],
    "as_server_down_tryexec": ["answered:human", "hungup:remote"],  # AMD() fallback
    "as_silence": ["answered:not_sure", "hungup:remote"],
    "busy": ["failed:busy"],
    "busy_channelid": ["failed:busy"],
    # AMI Bridge pulled the customer into a lone basic bridge: never with the agent.
    "conf_agent_bridge_action": [
        "joined:1001",
        "answered:human",
        "hungup:remote",
        "left:1001",
    ],
    "conf_agent_bridge_action_reversed": [
        "joined:1001",
        "answered:human",
        "bridged:1001",
        "hungup:remote",
        "left:1001",
    ],
    "conf_agent_redirect": [
        "joined:1001",
        "answered:human",
        "bridged:1001",
        "hungup:remote",
        "answered:human",
        "bridged:1001",
        "hungup:remote",
        "left:1001",
    ],
    "congestion": ["failed:congestion"],
    "deadair": ["answered:machine", "hungup:remote"],
    "deadair_nomedia": ["answered:not_sure", "bridged:agent1", "hungup:remote"],
    "human_agent_busy": ["ringing", "answered:human", "hungup:remote"],
    "human_en_queue": ["answered:human", "bridged:unknown", "hungup:remote"],  # queue picks
    "human_es": ["ringing", "answered:human", "bridged:agent1", "hungup:remote"],
    "human_es_channelid": ["ringing", "answered:human", "bridged:agent2", "hungup:remote"],
    # The dialplan's own hold ran out: UserEvent Abandoned, message, hang-up by us.
    "human_es_engine_hold_abandon": ["ringing", "answered:human", "hungup:engine"],
    "human_es_engine_redirect_agent": [
        "ringing",
        "answered:human",
        "bridged:agent1",
        "hungup:remote",
    ],
    # Events: call,user,agent: no VarSet, so the ;1 is only known from the
    # OriginateResponse (after the ringing); the UserEvent still carries the verdict.
    "human_es_events_call_user_agent": ["answered:human", "bridged:unknown", "hungup:remote"],
    "invalid_number": ["failed:congestion"],  # Reason 0, cause 1 unallocated
    "machine_en_leave_msg": ["answered:machine", "hungup:remote"],
    "machine_es": ["answered:machine", "hungup:remote"],
    "machine_tts_es": ["answered:machine", "hungup:remote"],
    "noanswer": ["ringing", "failed:no_answer"],
    "noanswer_cancel_channelid": ["ringing", "failed:cancelled"],  # Reason 0 after our Hangup
    "nonexistent_extension": ["failed:congestion"],
}


def word(ev: Out) -> str:
    if isinstance(ev, CallRinging):
        return "ringing"
    if isinstance(ev, CallAnswered):
        return f"answered:{ev.verdict}"
    if isinstance(ev, CallFailed):
        return f"failed:{ev.cause}"
    if isinstance(ev, CallBridged):
        return f"bridged:{ev.agent}"
    if isinstance(ev, CallHungUp):
        return f"hungup:{ev.side}"
    if isinstance(ev, AgentJoined):
        return f"joined:{ev.agent}"
    assert isinstance(ev, AgentLeft)
    return f"left:{ev.agent}"


def engine_for(name: str, calls: list[CallId]) -> dict[str, AmdVerdict]:
    for prefix, verdict in ENGINE.items():
        if name.startswith(prefix):
            return dict.fromkeys(calls, verdict)
    return {}


def run(name: str, chunk: int | None = None) -> list[Out]:
    calls = replay(name).calls
    return replay(name, chunk=chunk, engine=engine_for(name, calls)).events


def test_every_transcript_has_an_expectation() -> None:
    assert sorted(EXPECTED) == transcript_names()


@pytest.mark.parametrize("name", transcript_names())
def test_transcript_gives_the_expected_events(name: str) -> None:
    rep = replay(name, engine=engine_for(name, replay(name).calls))
    assert [word(e) for e in rep.events] == EXPECTED[name]
    assert rep.translator.open_calls() == {}  # nothing left hanging
    assert rep.messages > 20


@pytest.mark.parametrize("name", transcript_names())
def test_tcp_chunking_does_not_change_the_events(name: str) -> None:
    # 7-byte chunks split every CRLF and block boundary somewhere.
    assert [word(e) for e in run(name, chunk=7)] == EXPECTED[name]


@pytest.mark.parametrize("name", transcript_names())
def test_per_call_event_contract(name: str) -> None:
    """telephony.events: Ringing? -> Answered|Failed; Answered -> Bridged? -> HungUp; then
    nothing; times never go backwards."""
    seen: dict[CallId, list[str]] = {}
    last: dict[CallId, float] = {}
    for ev in run(name):
        if isinstance(ev, (AgentJoined, AgentLeft)):
            continue
        kinds = seen.setdefault(ev.call, [])
        assert not kinds or kinds[-1] not in ("CallFailed", "CallHungUp"), (ev, kinds)
        assert ev.at >= last.get(ev.call, 0.0)
        last[ev.call] = ev.at
        kinds.append(type(ev).__name__)
    for kinds in seen.values():
        assert kinds[-1] in ("CallFailed", "CallHungUp")
        if "CallBridged" in kinds or "CallHungUp" in kinds:
            assert "CallAnswered" in kinds
            assert kinds.index("CallAnswered") < kinds.index(kinds[-1])


def test_answered_at_is_the_answer_not_the_verdict() -> None:
    (ev,) = [e for e in run("human_es") if isinstance(e, CallAnswered)]
    # README table: answered 2.005 s after the Originate (+0.358), verdict at +4.229.
    assert ev.answered_at == pytest.approx(2.363)
    assert ev.at == pytest.approx(4.229)


@pytest.mark.parametrize(
    ("reason", "dial", "cause", "cancelled", "expected"),
    [
        (3, None, 19, False, FailCause.NO_ANSWER),
        (5, "BUSY", 17, False, FailCause.BUSY),
        (8, "CONGESTION", 34, False, FailCause.CONGESTION),
        (0, "NOANSWER", 1, False, FailCause.CONGESTION),
        (0, None, 0, False, FailCause.CONGESTION),
        (0, "NOANSWER", 16, True, FailCause.CANCELLED),
        (1, None, 0, False, FailCause.NO_ANSWER),
        (1, None, 17, False, FailCause.BUSY),
        (0, None, 17, False, FailCause.BUSY),
        (0, None, 19, False, FailCause.NO_ANSWER),
        (7, None, 0, False, FailCause.ERROR),
    ],
)
def test_fail_cause_table(
    reason: int, dial: str | None, cause: int, cancelled: bool, expected: FailCause
) -> None:
    assert fail_cause(reason, dial_status=dial, cause=cause, cancelled=cancelled) is expected


def test_verdict_strings() -> None:
    assert verdict_of("HUMAN") is V.HUMAN
    assert verdict_of("notsure") is V.NOT_SURE
    assert verdict_of("HANGUP") is V.HUNG_UP
    assert verdict_of("") is None
    assert verdict_of("SOMETHING-NEW") is V.NOT_SURE


def _ev(**h: str) -> dict[str, str]:
    return dict(h)


def test_order_independence_answer_after_verdict_and_late_events_dropped() -> None:
    tr = AmiTranslator()
    tr.placed(CallId("c1"), action_id="a1", unique_id="u1")
    out: list[Out] = []
    # The UserEvent before any answer evidence, then the OriginateResponse, then Hangup.
    out += tr.feed(
        _ev(Event="UserEvent", UserEvent="AMDResult", Uniqueid="u1", AMDStatus="MACHINE"), 5.0
    )
    out += tr.feed(
        _ev(
            Event="OriginateResponse", ActionID="a1", Response="Success", Reason="4", Uniqueid="u1"
        ),
        5.1,
    )
    out += tr.feed(_ev(Event="Hangup", Uniqueid="u1", Linkedid="u1", Cause="16"), 6.0)
    out += tr.feed(_ev(Event="Hangup", Uniqueid="u1", Linkedid="u1", Cause="16"), 6.1)
    out += tr.feed(_ev(Event="VarSet", Uniqueid="u1", Variable="AMDSTATUS", Value="HUMAN"), 7)
    assert [word(e) for e in out] == ["answered:machine", "hungup:remote"]
    assert out[0].at == 5.0


def test_hangup_before_failure_response_waits_for_its_reason() -> None:
    tr = AmiTranslator()
    tr.placed(CallId("c1"), action_id="a1", unique_id="u1")
    assert tr.feed(_ev(Event="Hangup", Uniqueid="u2", Linkedid="u1", Cause="34"), 1.0) == []
    assert tr.feed(_ev(Event="Hangup", Uniqueid="u1", Linkedid="u1", Cause="0"), 1.0) == []
    out = tr.feed(
        _ev(
            Event="OriginateResponse", ActionID="a1", Response="Failure", Reason="0", Uniqueid="u1"
        ),
        1.1,
    )
    assert [word(e) for e in out] == ["failed:congestion"]


def test_refused_originate_action_fails_the_call() -> None:
    tr = AmiTranslator()
    tr.placed(CallId("c1"), action_id="a1", unique_id="u1")
    out = tr.feed(_ev(Response="Error", ActionID="a1", Message="Permission denied"), 1.0)
    assert [word(e) for e in out] == ["failed:error"]
    assert not tr.is_open(CallId("c1"))


def test_agent_presence_join_leave_and_conference_end() -> None:
    tr = AmiTranslator()
    join = _ev(Event="ConfbridgeJoin", Conference="agent-7", Uniqueid="p1", Context="x")
    assert [word(e) for e in tr.feed(join, 1.0)] == ["joined:7"]
    assert tr.feed(join, 1.1) == []  # the same channel again: no second join
    assert tr.present(AgentId("7"))
    end = _ev(Event="ConfbridgeEnd", Conference="agent-7")
    assert [word(e) for e in tr.feed(end, 2.0)] == ["left:7"]
    assert not tr.present(AgentId("7"))
    other = _ev(Event="ConfbridgeJoin", Conference="sales", Uniqueid="p2", Context="x")
    assert tr.feed(other, 3.0) == []


def test_settle_and_reconcile_after_a_lost_connection() -> None:
    tr = AmiTranslator()
    tr.placed(CallId("ringing"), action_id="a1", unique_id="u1")
    tr.placed(CallId("talking"), action_id="a2", unique_id="u2")
    tr.placed(CallId("alive"), action_id="a3", unique_id="u3")
    tr.feed(_ev(Event="Newstate", Uniqueid="u2", ChannelState="6"), 1.0)
    tr.feed(_ev(Event="UserEvent", UserEvent="AMDResult", Uniqueid="u2", AMDStatus="HUMAN"), 2)
    tr.feed(_ev(Event="ConfbridgeJoin", Conference="agent-1", Uniqueid="ag", Context="x"), 0)
    live = {"u3": {"Uniqueid": "u3", "ChannelState": "6"}}
    out = tr.reconcile(live, 10.0)
    # The ringing call never got an outcome: an error; the talking one hung up (its
    # answer was already reported, so it is not repeated); the agent's channel is gone.
    assert sorted(word(e) for e in out) == ["failed:error", "hungup:remote", "left:1"]
    assert tr.open_calls() == {CallId("alive"): "u3"}
    # The settled ringing call turns up after all: reported as a stray to hang up.
    tr.feed(_ev(Event="Newchannel", Uniqueid="u1", Linkedid="u1"), 11.0)
    assert tr.strays == ["u1"]


@pytest.mark.parametrize(
    "module", ["telephony/ami_translate.py", "telephony/ami_codec.py", "telephony/ami_causes.py"]
)
def test_the_translation_is_pure(module: str) -> None:
    from tests.test_purity import ROOT, forbidden_chains  # noqa: PLC0415

    assert forbidden_chains(ROOT / module) == []
