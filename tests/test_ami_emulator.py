"""The AMI emulator's protocol and call basics, over real TCP with a raw client."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from tests.ami_raw_client import RAW_SECRET, RawAmiClient, field

SCALE = 0.01  # 100x faster than real time: a 16 s call takes 0.16 s


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[AmiEmulator]:
    async with AmiEmulator(secret=RAW_SECRET, time_scale=SCALE) as e:
        yield e


@pytest_asyncio.fixture
async def client(emu: AmiEmulator) -> AsyncIterator[RawAmiClient]:
    c = RawAmiClient()
    await c.connect(emu.host, emu.port)
    yield c
    await c.close()


def originate(c: RawAmiClient, aid: str, dial: str, *extra: tuple[str, str]) -> None:
    c.send(
        ("Action", "Originate"),
        ("ActionID", aid),
        ("Async", "true"),
        ("CallerID", '"Dialer" <5550100>'),
        ("Channel", dial),
        ("Context", "dialer-outbound"),
        ("Exten", "amd"),
        ("Priority", "1"),
        ("Timeout", "30000"),
        ("Variable", f"LEADID=lead-{aid}"),
        ("Variable", f"CALLID=call-{aid}"),
        *extra,
    )


@pytest.mark.asyncio
async def test_banner_login_fullybooted_and_ping(emu: AmiEmulator, client: RawAmiClient) -> None:
    assert emu.host == "127.0.0.1" and emu.port > 0
    assert client.banner == "Asterisk Call Manager/11.0.0"
    resp = await client.login()
    assert field(resp, "Response") == "Success"
    assert field(resp, "Message") == "Authentication accepted"
    booted = await client.event("FullyBooted")
    assert field(booted, "Status") == "Fully Booted"
    assert field(booted, "Privilege") == "system,all"
    await client.event("SuccessfulAuth")
    client.send(("Action", "Ping"), ("ActionID", "p1"))
    pong = await client.response("p1")
    assert field(pong, "Ping") == "Pong" and float(field(pong, "Timestamp")) > 0


@pytest.mark.asyncio
async def test_wrong_secret_is_refused_and_disconnected(client: RawAmiClient) -> None:
    resp = await client.login(secret="nope")
    assert field(resp, "Response") == "Error"
    assert field(resp, "Message") == "Authentication failed"
    with pytest.raises(ConnectionError):
        await client.wait_for(lambda b: False, timeout=2.0)


@pytest.mark.asyncio
async def test_actions_before_login_need_authentication(client: RawAmiClient) -> None:
    client.send(("Action", "Ping"), ("ActionID", "p0"))
    resp = await client.response("p0")
    assert field(resp, "Message") == "Authentication Required"
    client.send(("ActionID", "x"))
    assert field(await client.response("x"), "Message") == "Missing action in request"


@pytest.mark.asyncio
async def test_md5_challenge_login(client: RawAmiClient) -> None:
    client.send(("Action", "Challenge"), ("ActionID", "c"), ("AuthType", "md5"))
    challenge = field(await client.response("c"), "Challenge")
    key = hashlib.md5((challenge + RAW_SECRET).encode()).hexdigest()
    client.send(
        ("Action", "Login"),
        ("ActionID", "l"),
        ("AuthType", "md5"),
        ("Username", "dialer"),
        ("Key", key),
    )
    assert field(await client.response("l"), "Response") == "Success"


@pytest.mark.asyncio
async def test_human_call_answers_detects_and_bridges(client: RawAmiClient) -> None:
    await client.login()
    originate(client, "o1", "Local/human_es@callee-sim", ("Variable", "AGENT=agent1"))
    queued = await client.response("o1")
    assert field(queued, "Message") == "Originate successfully queued"
    orr = await client.event("OriginateResponse", ActionID="o1")
    assert (field(orr, "Response"), field(orr, "Reason")) == ("Success", "4")
    assert field(orr, "Channel").endswith(";1")
    amd = await client.event("UserEvent", UserEvent="AMDResult")
    assert field(amd, "AMDStatus") == "HUMAN" and field(amd, "CallID") == "call-o1"
    await client.event("BridgeEnter", Channel=field(orr, "Channel"))
    hang = await client.event("Hangup", Channel=field(orr, "Channel"), timeout=5)
    assert field(hang, "Cause") == "16"


@pytest.mark.asyncio
async def test_busy_with_channel_id_reports_it_as_uniqueid(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    await client.login()
    emu.script_number("5215512345678", CallScript(Outcome.BUSY))
    originate(
        client,
        "o2",
        "PJSIP/5215512345678@trunk",
        ("ChannelId", "c2-a"),
        ("OtherChannelId", "c2-b"),
    )
    orr = await client.event("OriginateResponse", ActionID="o2")
    assert (field(orr, "Response"), field(orr, "Reason")) == ("Failure", "5")
    assert field(orr, "Channel") == "PJSIP/5215512345678@trunk"
    assert field(orr, "Uniqueid") == "c2-a"
    # A trunk channel has a single leg: the real cause (17) is on it.
    hang = await client.event("Hangup", Uniqueid="c2-a")
    assert field(hang, "Cause") == "17"


@pytest.mark.asyncio
async def test_hangup_of_a_ringing_call_is_reason_0(emu: AmiEmulator, client: RawAmiClient) -> None:
    await client.login()
    emu.script_channel_id("c3-a", CallScript(Outcome.NO_ANSWER))
    originate(client, "o3", "Local/noanswer@callee-sim", ("ChannelId", "c3-a"))
    await client.event("DialState", DestUniqueid="c3-a")
    client.send(("Action", "Hangup"), ("ActionID", "h3"), ("Channel", "c3-a"), ("Cause", "16"))
    assert field(await client.response("h3"), "Message") == "Channel Hungup"
    orr = await client.event("OriginateResponse", ActionID="o3")
    assert (field(orr, "Response"), field(orr, "Reason")) == ("Failure", "0")
    assert emu.calls_in_flight == 0


@pytest.mark.asyncio
async def test_hangup_of_unknown_channel_is_an_error(client: RawAmiClient) -> None:
    await client.login()
    client.send(("Action", "Hangup"), ("ActionID", "h"), ("Channel", "Local/nope-1;1"))
    resp = await client.response("h")
    assert (field(resp, "Response"), field(resp, "Message")) == ("Error", "No such channel")


@pytest.mark.asyncio
async def test_order_seed_moves_the_originate_response() -> None:
    script = CallScript(Outcome.HUMAN, ring=0.0, amd_delay=60.0)
    async with AmiEmulator(
        secret=RAW_SECRET, time_scale=SCALE, order_seed=7, default_script=script
    ) as emu:
        c = RawAmiClient()
        await c.connect(emu.host, emu.port)
        await c.login(events="call")
        for i in range(12):
            originate(c, f"s{i}", "Local/human_es@callee-sim", ("ChannelId", f"s{i}-a"))
        await c.event("OriginateResponse", ActionID="s11")
        positions = set()
        for i in range(12):
            mine = [
                field(b, "Event")
                for b in c.events()
                if f"s{i}-a" in (field(b, "Uniqueid"), field(b, "DestUniqueid"))
                and field(b, "Event") in ("Newstate", "DialEnd", "OriginateResponse")
            ]
            positions.add(mine.index("OriginateResponse"))
        await c.close()
    assert len(positions) >= 2
