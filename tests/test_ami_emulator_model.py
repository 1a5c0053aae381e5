"""The emulator's framing, scripts and traffic model, and the less common call outcomes."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.ami_emulator import AmiEmulator
from simulator.ami_emulator_cli import main
from simulator.ami_protocol import (
    ALL_EVENTS,
    Framer,
    FramingError,
    encode_block,
    parse_event_mask,
    parse_variables,
)
from simulator.ami_scripts import CallScript, Outcome, TrafficModel
from simulator.scenario import load_scenario
from tests.ami_raw_client import RAW_SECRET, RawAmiClient, field

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"

# ---------------------------------------------------------------------- framing


def test_framer_reassembles_any_chunking_and_bare_lf() -> None:
    data = b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2,C=3\r\nAccountCode: \r\n\r\n"
    data += b"Action: Ping\nActionID: 7\n\n"
    f = Framer()
    msgs = [m for i in range(len(data)) for m in f.feed(data[i : i + 1])]
    assert [m.action for m in msgs] == ["Originate", "Ping"]
    assert msgs[0].get_all("variable") == ["A=1", "B=2,C=3"]
    assert msgs[0].get("AccountCode") == "" and msgs[0].has("accountcode")
    assert list(parse_variables(msgs[0].get_all("Variable"))) == [
        ("A", "1"),
        ("B", "2"),
        ("C", "3"),
    ]
    assert msgs[1].get("ActionID") == "7"


def test_framer_survives_garbage_and_refuses_unbounded_blocks() -> None:
    f = Framer()
    assert f.feed(b"\xff\xfe\r\nno colon\r\n\r\n") == []
    (m,) = f.feed(b"Key: \xc3\x28\r\n\r\n")
    assert m.get("Key") == "\ufffd("
    with pytest.raises(FramingError):
        f.feed(b"X: " + b"a" * 300_000)
    assert f.feed(b"Action: Ping\r\n\r\n")[0].action == "Ping"  # usable again


def test_event_masks_and_encoding() -> None:
    assert parse_event_mask("on") is ALL_EVENTS and parse_event_mask("") is ALL_EVENTS
    assert parse_event_mask("off") == frozenset()
    assert parse_event_mask("call, user,agent") == {"call", "user", "agent"}
    assert encode_block([("Response", "Success"), ("Message", "")]) == (
        "Response: Success\r\nMessage: \r\n\r\n"
    )


# ---------------------------------------------------------------------- scripts and model


def test_call_script_defaults_are_the_captured_values() -> None:
    human = CallScript(Outcome.HUMAN).resolved()
    assert (human.ring, human.amd_status, human.amd_cause) == (2.0, "HUMAN", "HUMAN-805-800")
    nomedia = CallScript(Outcome.DEAD_AIR_NOMEDIA).resolved()
    assert (nomedia.amd_status, nomedia.amd_cause) == ("NOTSURE", "TOOLONG-4900")
    assert CallScript(Outcome.NO_ANSWER).resolved().ring == math.inf
    with pytest.raises(ValueError, match="talk"):
        CallScript(Outcome.HUMAN, talk=-1.0)


def _scenario_model(seed: int) -> TrafficModel:
    sc = load_scenario(SCENARIOS / "large-100-low-contact.toml", today=date(2026, 3, 2))
    return TrafficModel(sc, seed=seed)


def test_traffic_model_is_seeded_and_follows_the_scenario() -> None:
    a, b = _scenario_model(5), _scenario_model(5)
    draws = [a.draw(60.0) for _ in range(20_000)]
    assert draws[:50] == [b.draw(60.0) for _ in range(50)]
    n = len(draws)
    kinds = Counter(d.outcome for d in draws)
    answered_people = kinds[Outcome.HUMAN] + kinds[Outcome.ANSWER_HANGUP]
    # large-100-low-contact: human 0.10, machine 0.22, busy 0.04, failed 0.12.
    assert abs(answered_people / n - 0.10) < 0.01
    assert abs(kinds[Outcome.MACHINE] / n - 0.22) < 0.015
    assert abs(kinds[Outcome.BUSY] / n - 0.04) < 0.01
    assert abs(kinds[Outcome.CONGESTION] / n - 0.12) < 0.01
    assert abs(kinds[Outcome.NO_ANSWER] / n - 0.52) < 0.015
    people = [d for d in draws if d.outcome is Outcome.HUMAN]
    # patience (mean 6) below the decision (1.5..3.5) becomes an answer-then-hangup.
    assert all((d.hangup_after or 0) >= (d.amd_delay or 0) for d in people)
    flipped = sum(d.amd_status == "MACHINE" for d in people) / len(people)
    assert flipped < 0.08  # human_as_machine = 0.03


# ---------------------------------------------------------------------- outcomes over AMI


@pytest_asyncio.fixture
async def client() -> AsyncIterator[tuple[AmiEmulator, RawAmiClient]]:
    async with AmiEmulator(secret=RAW_SECRET, time_scale=0.02) as emu:
        c = RawAmiClient()
        await c.connect(emu.host, emu.port)
        await c.login()
        yield emu, c
        await c.close()


def _originate(c: RawAmiClient, aid: str, *extra: tuple[str, str]) -> None:
    c.send(
        ("Action", "Originate"),
        ("ActionID", aid),
        ("Async", "true"),
        ("Channel", "PJSIP/5215512345678@trunk"),
        *extra,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("outcome", "reason", "cause"),
    [
        (Outcome.REJECTED, "1", "16"),
        (Outcome.CONGESTION, "8", "34"),
        (Outcome.UNALLOCATED, "0", "1"),
        (Outcome.NO_ANSWER, "3", "19"),
    ],
)
async def test_failure_reasons_on_a_trunk(
    client: tuple[AmiEmulator, RawAmiClient], outcome: Outcome, reason: str, cause: str
) -> None:
    emu, c = client
    emu.queue_scripts(CallScript(outcome, ring=0.5))
    _originate(c, "o", ("Context", "dialer-outbound"), ("Exten", "amd"), ("Timeout", "5000"))
    orr = await c.event("OriginateResponse", ActionID="o")
    assert (field(orr, "Response"), field(orr, "Reason")) == ("Failure", reason)
    assert field((await c.event("Hangup")), "Cause") == cause


@pytest.mark.asyncio
async def test_application_originate_and_scripts_by_action_id(
    client: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = client
    emu.script_action_id("app", CallScript(Outcome.HUMAN, ring=0.0, hangup_after=1.0))
    _originate(c, "app", ("Application", "Playback"), ("Data", "hello-world"))
    orr = await c.event("OriginateResponse", ActionID="app")
    assert field(orr, "Application") == "Playback" and field(orr, "Data") == "hello-world"
    assert not field(orr, "Context")
    await c.event("Hangup")
    assert not c.events("UserEvent")  # no AMD: the call ran an application


@pytest.mark.asyncio
async def test_unknown_action_events_off_and_bad_originate(
    client: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = client
    c.send(("Action", "Frobnicate"), ("ActionID", "f"))
    assert field(await c.response("f"), "Message").startswith("Invalid/unknown command")
    c.send(("Action", "Originate"), ("ActionID", "bad"), ("Channel", "nonsense"))
    assert field(await c.response("bad"), "Message") == "Channel not specified"
    _originate(c, "t", ("Timeout", "soon"))
    assert field(await c.response("t"), "Message") == "Invalid timeout"
    c.send(("Action", "Events"), ("ActionID", "e"), ("EventMask", "off"))
    assert field(await c.response("e"), "Events") == "Off"
    before = len(c.events())
    emu.queue_scripts(CallScript(Outcome.BUSY))
    _originate(c, "quiet", ("Context", "dialer-outbound"), ("Exten", "amd"))
    await c.response("quiet")
    c.send(("Action", "Ping"), ("ActionID", "p"))
    await c.response("p")
    assert len(c.events()) == before
    assert emu.originates == 1 and emu.calls_in_flight == 0


def test_standalone_entry_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--outcome", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["--time-scale", "0"]) == 2
    assert main(["--scenario", "/nonexistent/x.toml"]) == 2
    assert "x.toml" in capsys.readouterr().err


@given(st.lists(st.binary(max_size=200), max_size=30))
@settings(max_examples=200, deadline=None)
def test_framer_never_fails_on_garbage(chunks: list[bytes]) -> None:
    f = Framer()
    for chunk in chunks:
        for m in f.feed(chunk):  # FramingError is impossible below MAX_BLOCK bytes
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in m.headers)


@given(
    st.lists(
        st.lists(
            st.tuples(
                st.text(alphabet="ABCdefXyz-_", min_size=1, max_size=12),
                st.text(
                    alphabet=st.characters(
                        blacklist_characters="\r\n", blacklist_categories=("Cs",)
                    ),
                    max_size=40,
                ),
            ),
            min_size=1,
            max_size=6,
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=50),
)
@settings(max_examples=150, deadline=None)
def test_framer_is_independent_of_chunking(blocks: list[list[tuple[str, str]]], size: int) -> None:
    data = "".join(encode_block(b) for b in blocks).encode()
    whole = Framer().feed(data)
    f = Framer()
    pieces = [m for i in range(0, len(data), size) for m in f.feed(data[i : i + size])]
    assert pieces == whole
    assert [list(m.headers) for m in whole] == blocks  # values exactly, spaces included


@pytest.mark.asyncio
async def test_unscripted_calls_follow_the_traffic_model() -> None:
    model = _scenario_model(11)
    async with AmiEmulator(secret=RAW_SECRET, time_scale=0.001, model=model) as emu:
        c = RawAmiClient()
        await c.connect(emu.host, emu.port)
        await c.login(events="call")
        for i in range(300):
            _originate(c, f"m{i}", ("Context", "dialer-outbound"), ("Exten", "amd"))
        await c.response("m299")
        for _ in range(500):
            if emu.calls_in_flight == 0 and len(c.events("OriginateResponse")) == 300:
                break
            await asyncio.sleep(0.01)
        reasons = Counter(field(b, "Reason") for b in c.events("OriginateResponse"))
        await c.close()
    # large-100-low-contact: 32% answer (human + machine), 4% busy, 12% failed, the rest
    # ring out; Reason 4 / 5 / 8 / 3 respectively (ring > Timeout also rings out).
    assert sum(reasons.values()) == 300
    assert 0.15 < reasons["4"] / 300 < 0.45
    assert reasons["5"] > 0 and reasons["8"] > 0 and reasons["3"] > 100
