"""A campaign with ``amd = "engine"`` through the whole production path, for tests and
``benchmarks/amd_e2e.py``: the real ``CampaignRunner`` + ``AmiTelephony`` + the AMI
emulator streaming corpus clips over AudioSocket + our ``EngineAmd`` server + detector.

``run_engine_campaign(scripts, corpus=..., scale=0.1)`` dials one lead per script (the
script is the far end's true fate; ``CallScript(clip=...)`` names its audio) with the
progressive pacer and ``agents`` agents logged in through their phones, and returns
everything a check needs (``EngineRun``). Times: ``scale`` wall seconds per modelled
second for the emulator (its audio is paced by it); the engine's deadlines are scaled the
same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from dialer.ami_run import CampaignOutcome, run_campaign
from dialer.ids import AgentId
from dialer.settings import CampaignSettings
from pacing.progressive import ProgressivePacer
from simulator.ami_audio import CallAudio
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript
from simulator.portfolio import SyntheticPortfolio
from telephony.ami import AmiTelephony
from telephony.ami_settings import AmiSettings, Trunk
from telephony.audiosocket_server import AudioSocketSettings
from telephony.engine_amd import EngineAmd


@dataclass(slots=True)
class EngineRun:
    """The campaign's outcome and the parts, for checks after the run (all closed).
    ``wall_s``/``cpu_s``: wall and process CPU seconds of the campaign itself."""

    out: CampaignOutcome
    emulator: AmiEmulator
    telephony: AmiTelephony
    engine: EngineAmd
    audio: CallAudio
    wall_s: float
    cpu_s: float


async def run_engine_campaign(
    scripts: list[CallScript],
    *,
    corpus: Path,
    scale: float = 0.1,
    agents: int = 6,
    server: str | None = None,
    machine_prompt: str | None = "dialer-machine",
    seed: int = 5,
    timeout: float = 120.0,
    secret: str | None = None,
) -> EngineRun:
    """``server``: where the dialplan's AudioSocket() connects (``None``: our engine's
    server; a closed port plays the unreachable case)."""
    audio = CallAudio(corpus, seed=seed)
    emu = AmiEmulator(secret=secret, time_scale=scale, audio=audio)
    await emu.start()
    trunk = Trunk(name="carrier", template="PJSIP/{number}@carrier", channels=10_000)
    settings = AmiSettings(
        host=emu.host, port=emu.port, secret=emu.secret, outbound_exten="engine", trunks=(trunk,)
    )
    tel = AmiTelephony([settings])
    engine = EngineAmd(tel, AudioSocketSettings(port=0))
    await engine.start()
    names = [str(1001 + i) for i in range(agents)]
    try:
        address = server or engine.address
        emu.set_dialplan(DialplanConfig.dialer_dialplan(audiosocket_server=address))
        emu.queue_scripts(*scripts)
        await tel.start()
        for a in names:
            emu.agent_login(a)
        for _ in range(500):
            if tel.agents_present() >= {AgentId(a) for a in names}:
                break
            await asyncio.sleep(0.01)
        campaign = CampaignSettings(
            connect_deadline=2.0 * scale,
            no_answer_timeout=25.0,  # modelled: the emulator scales the Originate Timeout
            tick_interval=0.25 * scale,
            min_tick_interval=0.25 * scale,
            machine_prompt=machine_prompt,
            lead_retry_interval=0.05,
        )
        wall0, cpu0 = time.monotonic(), time.process_time()
        _runner, out = await run_campaign(
            tel,
            pacer=ProgressivePacer(),
            leads=SyntheticPortfolio(len(scripts)),
            settings=campaign,
            timeout=timeout,
        )
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    finally:
        await engine.close()
        await emu.stop()
    return EngineRun(out, emu, tel, engine, audio, wall, cpu)
