"""A campaign chooses its answering-machine detector (``CampaignSettings.amd``): the runner
sends the choice with the call, and the AMI adapter dials the dialplan extension that runs
it, whatever the server's default (checked on the emulator: the ``engine`` extension opens
an AudioSocket stream, the ``amd`` one does not)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from dialer.errors import ConfigError
from dialer.ids import CallId, LeadId
from dialer.settings import CampaignSettings
from simulator.ami_audio import CallAudio
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from telephony.ami import AmiTelephony
from telephony.ami_settings import AmiSettings, Trunk
from telephony.events import CallAnswered
from telephony.port import Originate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "amd-corpus" / "dev"
SECRET = "choice-secret"


def test_the_setting_is_checked() -> None:
    assert CampaignSettings(amd="engine").amd == "engine"
    with pytest.raises(ConfigError, match="amd"):
        CampaignSettings(amd="ours")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_the_adapter_dials_the_campaigns_detector() -> None:
    down = f"127.0.0.1:{_free_port()}"  # nobody listens: the stream is refused, AMD() decides
    async with AmiEmulator(secret=SECRET, time_scale=0.1, audio=CallAudio(CORPUS)) as emu:
        emu.set_dialplan(DialplanConfig.dialer_dialplan(audiosocket_server=down))
        trunk = Trunk(name="carrier", template="PJSIP/{number}@carrier", channels=10)
        tel = AmiTelephony(
            [AmiSettings(host=emu.host, port=emu.port, secret=SECRET, trunks=(trunk,))]
        )
        await tel.start()
        events = tel.events().__aiter__()
        try:
            for n, choice in enumerate((None, "engine", "asterisk")):
                emu.queue_scripts(CallScript(Outcome.MACHINE, ring=0.0))
                variables = {} if choice is None else {"DIALER_AMD": choice}
                call = CallId(f"c{n}")
                await tel.originate(
                    Originate(call, LeadId("l"), "5215512345678", 25.0, variables=variables)
                )
                while True:
                    ev = await asyncio.wait_for(events.__anext__(), 10)
                    if isinstance(ev, CallAnswered) and ev.call == call:
                        await tel.hangup(call)
                        break
                streams = [rec.call for rec in emu.audio_streams]
                # Only the call whose campaign chose our detector went to AudioSocket.
                assert streams == ([CallId("c1")] if n else []), (choice, streams)
        finally:
            await tel.close()


@pytest.mark.asyncio
async def test_the_runner_sends_the_campaigns_choice_with_each_call() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from dialer.clock import Clock  # noqa: PLC0415
    from dialer.ids import AgentId  # noqa: PLC0415
    from dialer.runner import CampaignRunner  # noqa: PLC0415
    from pacing.progressive import ProgressivePacer  # noqa: PLC0415
    from simulator.portfolio import SyntheticPortfolio  # noqa: PLC0415
    from telephony.scripted import Script, ScriptedTelephony  # noqa: PLC0415

    for choice in (None, "engine"):
        tel = ScriptedTelephony(default=Script(ring=0.01, decision=0.01, talk=0.05))
        runner = CampaignRunner(
            settings=CampaignSettings(amd=choice, tick_interval=0.02, min_tick_interval=0.02),
            telephony=tel,
            leads=SyntheticPortfolio(10),
            pacer=ProgressivePacer(),
            clock=Clock(asyncio.get_running_loop(), wall_at_start=datetime.now(UTC)),
        )
        task = asyncio.ensure_future(runner.run())
        runner.login(AgentId("A"))
        async with asyncio.timeout(5):
            while not tel.originated:
                await asyncio.sleep(0.01)
        runner.stop()
        tel.close()
        await asyncio.wait_for(task, 5)
        assert tel.originated[0].variables.get("DIALER_AMD") == choice
