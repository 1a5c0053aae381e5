"""Agent conferences in the AMI emulator: login/logout API, customers Redirected in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from tests.ami_raw_client import RAW_SECRET, RawAmiClient, field, originate_headers

SCALE = 0.02


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[AmiEmulator]:
    plan = DialplanConfig(engine_routing=True)
    async with AmiEmulator(secret=RAW_SECRET, time_scale=SCALE, dialplan=plan) as e:
        yield e


@pytest_asyncio.fixture
async def client(emu: AmiEmulator) -> AsyncIterator[RawAmiClient]:
    c = RawAmiClient()
    await c.connect(emu.host, emu.port)
    await c.login()
    yield c
    await c.close()


def originate(c: RawAmiClient, call: str) -> None:
    c.send(
        *originate_headers(call, "amd"),
        ("Priority", "1"),
        ("Variable", f"DIALER_CALLID={call},DIALER_LEADID=lead-{call}"),
    )


def redirect(c: RawAmiClient, call: str, exten: str, context: str = "dialer-conf") -> None:
    c.send(
        ("Action", "Redirect"),
        ("ActionID", f"r-{call}"),
        ("Channel", f"{call}-a"),
        ("Context", context),
        ("Exten", exten),
        ("Priority", "1"),
    )


@pytest.mark.asyncio
async def test_agent_login_and_logout_through_the_api(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.agent_login("1001")
    login = await client.event("UserEvent", UserEvent="AgentLogin")
    assert field(login, "Agent") == "1001"
    start = await client.event("ConfbridgeStart", Conference="agent-1001")
    assert field(start, "BridgeCreator") == "ConfBridge"
    join = await client.event("ConfbridgeJoin", Conference="agent-1001")
    # The hidden announcer channel counts: the agent alone shows 2 (README pitfall 2).
    assert field(join, "BridgeNumChannels") == "2"
    assert emu.agents_present() == {"1001"}
    assert emu.conference_members("agent-1001") == [field(join, "Channel")]
    with pytest.raises(ValueError, match="already logged in"):
        emu.agent_login("1001")
    emu.agent_logout("1001")
    await client.event("ConfbridgeLeave", Conference="agent-1001")
    await client.event("ConfbridgeEnd", Conference="agent-1001")
    assert emu.agents_present() == set()
    assert emu.calls_in_flight == 0
    with pytest.raises(ValueError, match="not logged in"):
        emu.agent_logout("1001")


@pytest.mark.asyncio
async def test_customer_redirected_in_talks_then_hangs_up(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.agent_login("1001")
    await client.event("ConfbridgeJoin", Conference="agent-1001")
    emu.script_channel_id("c1-a", CallScript(Outcome.HUMAN, ring=0.0, talk=2.0))
    originate(client, "c1")
    amd = await client.event("UserEvent", UserEvent="AMDResult")
    assert field(amd, "AMDStatus") == "HUMAN"
    redirect(client, "c1", "1001")
    assert field(await client.response("r-c1"), "Message") == "Redirect successful"
    join = await client.event("ConfbridgeJoin", Uniqueid="c1-a")
    assert field(join, "BridgeNumChannels") == "3"
    leave = await client.event("ConfbridgeLeave", Uniqueid="c1-a")
    hang = await client.event("Hangup", Uniqueid="c1-a")
    assert field(hang, "Cause") == "16"
    assert field(leave, "Conference") == "agent-1001"
    # The agent keeps the conference: no ConfbridgeEnd.
    assert not client.events("ConfbridgeEnd")
    assert emu.agents_present() == {"1001"}


@pytest.mark.asyncio
async def test_redirect_to_an_absent_agent_leaves_the_customer_alone(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    # README pitfall 4: ConfBridge creates the conference on first join; the customer
    # sits alone in a new, empty agent-1002 until they give up.
    emu.script_channel_id("c2-a", CallScript(Outcome.HUMAN, ring=0.0, hangup_after=6.0, talk=1.0))
    originate(client, "c2")
    await client.event("UserEvent", UserEvent="AMDResult")
    redirect(client, "c2", "1002")
    await client.response("r-c2")
    start = await client.event("ConfbridgeStart", Conference="agent-1002")
    join = await client.event("ConfbridgeJoin", Uniqueid="c2-a")
    assert field(join, "BridgeNumChannels") == "2"
    assert field(start, "BridgeName") == "agent-1002"
    await client.event("Hangup", Uniqueid="c2-a")
    # The customer hung up at the end of their patience (6 s), not after "talk".
    end = await client.event("ConfbridgeEnd", Conference="agent-1002")
    assert field(end, "Conference") == "agent-1002"


@pytest.mark.asyncio
async def test_engine_hangup_of_a_customer_in_conference(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.agent_login("1001")
    emu.script_channel_id("c3-a", CallScript(Outcome.HUMAN, ring=0.0, talk=60.0))
    originate(client, "c3")
    await client.event("UserEvent", UserEvent="AMDResult")
    redirect(client, "c3", "1001")
    await client.event("ConfbridgeJoin", Uniqueid="c3-a")
    client.send(("Action", "Hangup"), ("ActionID", "h3"), ("Channel", "c3-a"))
    assert field(await client.response("h3"), "Message") == "Channel Hungup"
    await client.event("ConfbridgeLeave", Uniqueid="c3-a")
    await client.event("Hangup", Uniqueid="c3-a")
    assert emu.agents_present() == {"1001"}
    assert emu.calls_in_flight == 1  # only the agent's phone


@pytest.mark.asyncio
async def test_no_redirect_in_time_is_an_abandon_with_message(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.script_channel_id("c4-a", CallScript(Outcome.HUMAN, ring=0.0))
    originate(client, "c4")
    await client.event("UserEvent", UserEvent="AMDResult")
    abandoned = await client.event("UserEvent", UserEvent="Abandoned")
    assert field(abandoned, "CallID") == ""  # DIALER_* vars, not the harness's CALLID
    assert field(abandoned, "Context") == "dialer-route"
    await client.event("Hangup", Uniqueid="c4-a")


@pytest.mark.asyncio
async def test_machine_redirected_to_the_machine_message(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.script_channel_id("c5-a", CallScript(Outcome.MACHINE_MESSAGE, ring=0.0))
    originate(client, "c5")
    amd = await client.event("UserEvent", UserEvent="AMDResult")
    assert field(amd, "AMDStatus") == "MACHINE"
    redirect(client, "c5", "machine-message", context="dialer-route")
    await client.response("r-c5")
    t_redirect = emu.loop.time()
    await client.event("Hangup", Uniqueid="c5-a", timeout=5)
    # WaitForSilence until the beep (11.8 s after the answer; the verdict came at 3.2 s),
    # then the 6.1 s message: well over the message alone.
    assert emu.loop.time() - t_redirect > (6.1 + 4.0) * SCALE


@pytest.mark.asyncio
async def test_redirect_of_an_unanswered_call_fails(emu: AmiEmulator, client: RawAmiClient) -> None:
    emu.script_channel_id("c6-a", CallScript(Outcome.NO_ANSWER))
    originate(client, "c6")
    await client.event("DialState", DestUniqueid="c6-a")
    redirect(client, "c6", "1001")
    resp = await client.response("r-c6")
    assert (field(resp, "Response"), field(resp, "Message")) == ("Error", "Redirect failed")


@pytest.mark.asyncio
async def test_variables_status_getvar_setvar_userevent_coreshowchannels(
    emu: AmiEmulator, client: RawAmiClient
) -> None:
    emu.script_channel_id("c7-a", CallScript(Outcome.HUMAN, ring=0.0, talk=60.0))
    originate(client, "c7")
    v = await client.event("VarSet", Uniqueid="c7-a", Variable="DIALER_CALLID")
    assert field(v, "Value") == "c7"
    client.send(
        ("Action", "Getvar"), ("ActionID", "g"), ("Channel", "c7-a"), ("Variable", "DIALER_LEADID")
    )
    assert field(await client.response("g"), "Value") == "lead-c7"
    client.send(
        ("Action", "Setvar"),
        ("ActionID", "s"),
        ("Channel", "c7-a"),
        ("Variable", "X"),
        ("Value", "1"),
    )
    assert field(await client.response("s"), "Message") == "Variable Set"
    await client.event("VarSet", Uniqueid="c7-a", Variable="X")
    client.send(("Action", "UserEvent"), ("ActionID", "u"), ("UserEvent", "Hello"), ("Who", "me"))
    await client.response("u")
    ue = await client.event("UserEvent", UserEvent="Hello")
    assert field(ue, "Who") == "me"
    client.send(("Action", "CoreShowChannels"), ("ActionID", "cs"))
    await client.response("cs")
    done = await client.event("CoreShowChannelsComplete")
    assert field(done, "ListItems") == "1"  # a trunk channel has a single leg
    row = await client.event("CoreShowChannel", ActionID="cs")
    assert field(row, "Uniqueid") == "c7-a"
    client.send(("Action", "Status"), ("ActionID", "st"), ("Channel", "c7-a"))
    await client.response("st")
    status = await client.event("Status", ActionID="st")
    assert field(status, "ChannelStateDesc") == "Up"
    await client.event("StatusComplete", ActionID="st")
