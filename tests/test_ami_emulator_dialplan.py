"""The emulator playing our production dialplan (``DialplanConfig.dialer_dialplan()``)."""

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
async def pair() -> AsyncIterator[tuple[AmiEmulator, RawAmiClient]]:
    async with AmiEmulator(
        secret=RAW_SECRET, time_scale=SCALE, dialplan=DialplanConfig.dialer_dialplan()
    ) as emu:
        c = RawAmiClient()
        await c.connect(emu.host, emu.port)
        await c.login(events="system,call,user")
        yield emu, c
        await c.close()


def originate(c: RawAmiClient, call: str, exten: str = "amd") -> None:
    c.send(
        *originate_headers(call, exten),
        ("Variable", f"CALLID={call}"),
        ("Variable", f"LEADID=lead-{call}"),
        ("Variable", f"DIALER_AS_UUID=uuid-{call}"),
    )


def redirect(c: RawAmiClient, call: str, context: str, exten: str) -> None:
    c.send(
        ("Action", "Redirect"),
        ("ActionID", f"r-{call}"),
        ("Channel", f"{call}-a"),
        ("Context", context),
        ("Exten", exten),
        ("Priority", "1"),
    )


def test_preset_and_overrides() -> None:
    plan = DialplanConfig.dialer_dialplan(hold=1.0)
    assert plan.engine_routing and plan.hangup_handler and plan.end_marked
    assert (plan.hold, plan.login_context) == (1.0, "dialer-agent-login")
    with pytest.raises(ValueError, match="hold"):
        DialplanConfig(hold=-1.0)


@pytest.mark.asyncio
async def test_unrouted_person_is_abandoned_and_the_handler_reports_the_end(
    pair: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = pair
    emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0))
    originate(c, "a1")
    await c.event("UserEvent", UserEvent="AMDResult")
    abandoned = await c.event("UserEvent", UserEvent="Abandoned")
    assert field(abandoned, "CallID") == "a1"
    bye = await c.event("UserEvent", UserEvent="DialerHangup")
    assert (field(bye, "Cause"), field(bye, "AMDStatus")) == ("16", "HUMAN")
    hang = await c.event("Hangup", Uniqueid="a1-a")
    # The handler's UserEvent comes before the channel's Hangup.
    assert c.blocks.index(bye) < c.blocks.index(hang)


@pytest.mark.asyncio
async def test_guard_sends_a_person_without_agent_to_the_abandon_message(
    pair: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = pair
    emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0))
    originate(c, "a2")
    await c.event("UserEvent", UserEvent="AMDResult")
    redirect(c, "a2", "dialer-conf", "1002")
    noagent = await c.event("UserEvent", UserEvent="NoAgent")
    assert (field(noagent, "CallID"), field(noagent, "Agent")) == ("a2", "1002")
    await c.event("UserEvent", UserEvent="Abandoned")
    assert not c.events("ConfbridgeJoin")


@pytest.mark.asyncio
async def test_customers_are_put_out_when_their_agent_leaves(
    pair: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = pair
    emu.agent_login("1001")
    await c.event("ConfbridgeJoin", Conference="agent-1001")
    emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0, talk=600.0))
    originate(c, "a3")
    await c.event("UserEvent", UserEvent="AMDResult")
    redirect(c, "a3", "dialer-conf", "1001")
    await c.event("ConfbridgeJoin", Uniqueid="a3-a")
    emu.agent_logout("1001")
    left = await c.event("UserEvent", UserEvent="CustomerLeftConference")
    assert (field(left, "Agent"), field(left, "ConfbridgeResult")) == ("1001", "ENDMARKED")
    await c.event("Hangup", Uniqueid="a3-a")
    await c.event("ConfbridgeEnd", Conference="agent-1001")
    assert emu.calls_in_flight == 0


@pytest.mark.asyncio
async def test_engine_exten_falls_back_to_amd_without_an_audiosocket_server(
    pair: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = pair
    emu.queue_scripts(CallScript(Outcome.MACHINE, ring=0.0))
    originate(c, "a4", exten="engine")
    done = await c.event("UserEvent", UserEvent="AudioSocketDone")
    assert (field(done, "TryStatus"), field(done, "AsUUID")) == ("FAILED", "uuid-a4")
    amd = await c.event("UserEvent", UserEvent="AMDResult")
    assert field(amd, "AMDStatus") == "MACHINE"
    # A machine the engine leaves alone is hung up after the hold.
    bye = await c.event("UserEvent", UserEvent="DialerHangup")
    assert field(bye, "AMDStatus") == "MACHINE"


@pytest.mark.asyncio
async def test_machine_message_is_announced_then_played(
    pair: tuple[AmiEmulator, RawAmiClient],
) -> None:
    emu, c = pair
    emu.queue_scripts(CallScript(Outcome.MACHINE_MESSAGE, ring=0.0, beep_after=5.0))
    originate(c, "a5")
    await c.event("UserEvent", UserEvent="AMDResult")
    redirect(c, "a5", "dialer-route", "machine-message")
    mm = await c.event("UserEvent", UserEvent="MachineMessage")
    assert (field(mm, "WaitStatus"), field(mm, "Context")) == ("SILENCE", "dialer-route")
    await c.event("Hangup", Uniqueid="a5-a")
