"""Malformed AMI never crashes the parser or the translator (Hypothesis).

Garbage bytes, truncated blocks, huge values, non-UTF-8, and well-formed but hostile
messages (known event names with random headers) in any order, interleaved with the
adapter's orders. Whatever comes in, the per-call event contract holds.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.ids import AgentId, CallId
from telephony.ami_codec import AmiParser, format_action
from telephony.ami_translate import AmiTranslator, Out
from telephony.events import AmdVerdict, CallFailed, CallHungUp
from telephony.presence import AgentJoined, AgentLeft
from tests.ami_fixtures import blocks, wire_bytes

EVENTS = [
    "OriginateResponse",
    "Newstate",
    "DialState",
    "DialEnd",
    "Hangup",
    "VarSet",
    "UserEvent",
    "ConfbridgeJoin",
    "ConfbridgeLeave",
    "ConfbridgeEnd",
    "BridgeEnter",
    "Newchannel",
]
KEYS = [
    "ActionID", "Response", "Reason", "Uniqueid", "Linkedid", "DestUniqueid", "ChannelState",
    "DialStatus", "Cause", "Variable", "Value", "UserEvent", "AMDStatus", "CallID",
    "Conference", "Context", "BridgeUniqueid", "BridgeNumChannels", "BridgeTechnology",
    "ConfbridgeResult",
]  # fmt: skip
IDS = st.sampled_from(["u0", "u1", "u2", "a0", "a1", "a2", "c0", "c1", "agent-1", "<unknown>"])
VALUES = st.one_of(
    IDS,
    st.sampled_from(["4", "5", "6", "0", "3", "8", "Success", "Failure", "Error", "HUMAN",
                     "MACHINE", "HANGUP", "AMDSTATUS", "AMDResult", "ANSWER", "RINGING",
                     "KICKED", "softmix", "2", "-1", "9" * 40]),
    st.text(max_size=30),
    st.text(min_size=5000, max_size=20000).filter(lambda s: len(s) >= 5000),
)  # fmt: skip
MESSAGES = st.one_of(
    st.builds(
        lambda ev, h: {"Event": ev, **h},
        st.sampled_from(EVENTS),
        st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8),
    ),
    st.dictionaries(st.sampled_from(["Response", *KEYS]), VALUES, max_size=5),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4),
)
ORDERS = st.tuples(
    st.sampled_from(["placed", "hangup", "message", "bridge", "verdict", "settle"]),
    st.sampled_from(["c0", "c1", "c2"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_parser_survives_any_bytes(chunks: list[bytes]) -> None:
    parser = AmiParser(max_block=1024)
    for chunk in chunks:
        for msg in parser.feed(chunk):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in msg.items())


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=64), st.integers(min_value=0, max_value=2000))
def test_parser_truncated_fixture_stream(chunk: int, cut: int) -> None:
    data = b"".join(wire_bytes(b) for b in blocks("human_es") if not b.sent)
    whole = AmiParser().feed(data)
    parser = AmiParser()
    got = []
    truncated = data[: len(data) - cut]
    for i in range(0, len(truncated), chunk):
        got.extend(parser.feed(truncated[i : i + chunk]))
    assert got == whole[: len(got)]
    assert len(got) >= len(whole) - cut // 40 - 1


def test_parser_bounds_an_endless_block_and_recovers() -> None:
    parser = AmiParser(max_block=1024)
    assert parser.feed(b"Event: X\r\nValue: " + b"A" * 5000) == []
    assert parser.dropped == 1
    assert parser.feed(b"\r\n\r\nEvent: Ping\r\n\r\n") == [{"Event": "Ping"}]


def test_non_utf8_and_split_multibyte() -> None:
    parser = AmiParser()
    data = "Event: UserEvent\r\nName: Peña\r\n\r\n".encode()
    cut = data.index(b"\xc3") + 1  # in the middle of the two-byte "ñ"
    assert parser.feed(data[:cut]) == []
    assert parser.feed(data[cut:]) == [{"Event": "UserEvent", "Name": "Peña"}]
    (msg,) = parser.feed(b"Event: X\r\nBad: \xff\xfe\r\n\r\n")
    assert msg["Bad"] == "\ufffd\ufffd"


def test_format_action_refuses_header_injection() -> None:
    assert format_action({"Action": "Ping"}) == b"Action: Ping\r\n\r\n"
    assert format_action({"Variable": ["A=1", "B=2"]}) == b"Variable: A=1\r\nVariable: B=2\r\n\r\n"
    for bad in ("x\r\nAction: Command", "x\nCommand: core stop now"):
        try:
            format_action({"Channel": bad})
        except ValueError:
            continue
        raise AssertionError("CR/LF accepted in a header")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(MESSAGES, ORDERS), max_size=60))
def test_translator_survives_anything_and_keeps_the_contract(
    steps: list[dict[str, str] | tuple[str, str]],
) -> None:
    tr = AmiTranslator(remember=8)
    out: list[Out] = []
    placed: set[str] = set()
    for now, step in enumerate(steps):
        if isinstance(step, tuple):
            kind, c = step
            call = CallId(c)
            if kind == "placed":
                if c not in placed:
                    placed.add(c)
                    tr.placed(call, action_id="a" + c[1], unique_id="u" + c[1])
            elif kind == "hangup":
                tr.hangup_ordered(call)
            elif kind == "message":
                tr.message_ordered(call)
            elif kind == "bridge":
                tr.bridge_ordered(call, AgentId("1"))
            elif kind == "verdict":
                out += tr.engine_verdict(call, AmdVerdict.HUMAN, float(now))
            else:
                out += tr.settle(call, float(now))
        else:
            out += tr.feed(step, float(now))
    ended: set[str] = set()
    answered: set[str] = set()
    for ev in out:
        if isinstance(ev, (AgentJoined, AgentLeft)):
            continue
        assert ev.call not in ended, ev
        if isinstance(ev, (CallFailed, CallHungUp)):
            ended.add(ev.call)
        if isinstance(ev, CallFailed):
            assert ev.call not in answered
        if isinstance(ev, CallHungUp):
            assert ev.call in answered
        if type(ev).__name__ == "CallAnswered":
            assert ev.call not in answered
            answered.add(ev.call)
    assert set(tr.open_calls()) == placed - ended
