"""End to end, ``amd = "engine"``: the real runner + ``AmiTelephony`` + the AMI emulator +
our AudioSocket server + our detector, on real corpus audio over loopback TCP.

The emulator answers each call, runs ``dialer-outbound,engine`` and streams a corpus
clip matching the call's true outcome to our server in 20 ms frames (time scaled by
``SCALE``); the server's detector decides, the verdict reaches the adapter through
``EngineAmd``, the server closes the stream, and the runner routes the call over AMI.
What must hold: the verdict given over the socket for each call equals the offline
verdict of the same clip (``run_detector``: the same detector fed 20 ms frames), and
the call was routed by it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from pathlib import Path

import pytest

from dialer.ami_run import CampaignOutcome
from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import AttemptOutcome
from simulator.ami_audio import CallAudio
from simulator.ami_audiosocket import StreamEnd
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from simulator.engine_amd_run import run_engine_campaign
from telephony.amd.detector import Verdict
from telephony.amd_corpus import run_detector
from telephony.ami import AmiTelephony
from telephony.ami_settings import AmiSettings, Trunk
from telephony.audiosocket_server import AudioSocketSettings
from telephony.engine_amd import EngineAmd
from telephony.events import AmdVerdict, CallAnswered
from telephony.port import Originate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "amd-corpus" / "dev"
SCALE = 0.1  # wall seconds per modelled second: a 5 s analysis streams in 0.5 s
SECRET = "e2e-secret-never-logged"
AGENTS = ["1001", "1002", "1003", "1004", "1005", "1006"]
# The runner's outcome for each verdict (dialer/runner.py; NOT_SURE goes to an agent
# with the default not_sure_as_human).
ROUTED = {
    AmdVerdict.HUMAN: AttemptOutcome.CONNECTED,
    AmdVerdict.NOT_SURE: AttemptOutcome.CONNECTED,
    AmdVerdict.MACHINE: AttemptOutcome.MACHINE,
    AmdVerdict.FAX: AttemptOutcome.FAX,
    AmdVerdict.SIT: AttemptOutcome.SIT,
}


def mix(humans: int, machines: int, messages: int, others: int) -> list[CallScript]:
    """The true outcomes of a campaign; ``talk`` keeps agents busy a few modelled s."""
    scripts = [CallScript(Outcome.HUMAN, ring=1.0, talk=3.0)] * humans
    scripts += [CallScript(Outcome.MACHINE, ring=1.0)] * machines
    scripts += [CallScript(Outcome.MACHINE_MESSAGE, ring=1.0)] * messages
    extra = [Outcome.FAX, Outcome.SIT, Outcome.DEAD_AIR]
    scripts += [CallScript(extra[i % 3], ring=1.0, talk=3.0) for i in range(others)]
    return scripts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    scripts: list[CallScript],
    *,
    server: str | None,
    machine_prompt: str | None = "dialer-machine",
    seed: int = 5,
) -> tuple[CampaignOutcome, AmiEmulator, AmiTelephony, EngineAmd, CallAudio]:
    """A progressive campaign over ``scripts`` with ``amd = "engine"``. ``server``:
    where the dialplan's AudioSocket() connects; ``None``: our ``EngineAmd``."""
    r = await run_engine_campaign(
        scripts,
        corpus=CORPUS,
        scale=SCALE,
        agents=len(AGENTS),
        server=server,
        machine_prompt=machine_prompt,
        seed=seed,
        timeout=60,
        secret=SECRET,
    )
    return r.out, r.emulator, r.telephony, r.engine, r.audio


def check_socket_verdicts(out: CampaignOutcome, emu: AmiEmulator, amd: EngineAmd,
                          audio: CallAudio) -> Counter[Verdict]:  # fmt: skip
    """Every call streamed its clip, got the offline verdict over the socket, and was
    routed by it. Returns the verdicts."""
    assert out.unfinished == 0 and out.duplicates == []
    assert len(out.results) == out.dials
    results = {str(r.call): r for r in out.results}
    streams = emu.audio_streams
    assert len(streams) == out.dials
    verdicts: Counter[Verdict] = Counter()
    for rec in streams:
        # Handed back with our FIN; or the engine's Redirect/Hangup, sent on the verdict,
        # reached the PBX before the FIN did, and Asterisk closed the socket itself
        # (fixtures README, AudioSocket pitfall 5: both are fine).
        assert rec.end in (StreamEnd.SERVER_CLOSED, StreamEnd.CHANNEL_GONE), rec
        assert rec.clip is not None
        got = amd.results[rec.as_uuid]
        offline = run_detector(audio.samples(audio.clip(rec.clip)))
        assert (got.verdict, got.at_s, got.reason) == (
            offline.verdict,
            offline.at_s,
            offline.reason,
        )
        assert got.beep_at_s == offline.beep_at_s
        result = results[rec.call]
        assert result.amd_verdict == str(got.amd_verdict)
        assert result.outcome is ROUTED[got.amd_verdict], (rec, result)
        if result.outcome is AttemptOutcome.CONNECTED:
            assert result.agent in {AgentId(a) for a in AGENTS}
        verdicts[got.verdict] += 1
    return verdicts


@pytest.mark.asyncio
async def test_engine_amd_campaign_verdicts_match_offline_and_route_calls() -> None:
    scripts = mix(humans=12, machines=8, messages=4, others=6)
    out, emu, tel, amd, audio = await run(scripts, server=None)
    verdicts = check_socket_verdicts(out, emu, amd, audio)
    assert out.dials == len(scripts) == 30
    # What the detector said about the true outcomes (not asserted per call: the
    # detector is not perfect; the routing must follow whatever it said).
    assert verdicts[Verdict.HUMAN] >= 10 and verdicts[Verdict.MACHINE] >= 10
    # Humans reached agents in their conferences; machines got the message after the
    # beep (the emulator's machine-message waits for the clip's beep + 1.5 s).
    assert tel.stats["bridges"] == out.outcomes["connected"]
    assert tel.stats["machine_messages"] == out.outcomes["machine"]
    assert tel.stats["abandon_messages"] == 0
    assert amd.ended == {}  # no stream ended without a verdict


@pytest.mark.asyncio
async def test_machines_are_hung_up_without_a_machine_message() -> None:
    scripts = mix(humans=2, machines=6, messages=0, others=0)
    out, emu, tel, amd, audio = await run(scripts, server=None, machine_prompt=None, seed=9)
    check_socket_verdicts(out, emu, amd, audio)
    assert tel.stats["machine_messages"] == 0
    assert tel.stats["hangups"] >= out.outcomes["machine"] >= 4


@pytest.mark.asyncio
async def test_unreachable_server_falls_back_to_amd_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scripts = mix(humans=4, machines=3, messages=0, others=0)
    with caplog.at_level(logging.WARNING):
        out, emu, _tel, amd, audio = await run(scripts, server=f"127.0.0.1:{free_port()}")
    assert out.dials == len(scripts) and out.unfinished == 0
    assert amd.results == {}
    assert all(rec.end is StreamEnd.REFUSED for rec in emu.audio_streams)
    # AMD() decided each call, as app_amd would on the same clip.
    results = {str(r.call): r for r in out.results}
    for rec in emu.audio_streams:
        assert rec.clip is not None
        status, _cause, _at = audio.asterisk_amd(audio.clip(rec.clip))
        assert results[rec.call].amd_verdict == {"NOTSURE": "not_sure"}.get(status, status.lower())
    lines = [r for r in caplog.records if r.name == "telephony.ami" and "AudioSocket" in r.message]
    assert len(lines) == 1, [r.message for r in lines]
    assert "fall back to Asterisk's AMD()" in lines[0].getMessage()
    assert SECRET not in caplog.text


@pytest.mark.slow
@pytest.mark.asyncio
async def test_engine_amd_long_campaign() -> None:
    scripts = mix(humans=60, machines=45, messages=15, others=15)
    out, emu, _tel, amd, audio = await run(scripts, server=None, seed=21)
    verdicts = check_socket_verdicts(out, emu, amd, audio)
    assert out.dials == len(scripts)
    assert sum(verdicts.values()) == len(scripts)


@pytest.mark.asyncio
async def test_fallback_is_logged_once_per_outage_and_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Down (2 calls), up (1 call), down again (1 call): two warnings and one info line,
    whatever the number of calls in each phase."""
    down = f"127.0.0.1:{free_port()}"
    audio = CallAudio(CORPUS, seed=2)
    async with AmiEmulator(secret=SECRET, time_scale=SCALE, audio=audio) as emu:
        trunk = Trunk(name="carrier", template="PJSIP/{number}@carrier", channels=10)
        settings = AmiSettings(host=emu.host, port=emu.port, secret=SECRET,
                               outbound_exten="engine", trunks=(trunk,))  # fmt: skip
        tel = AmiTelephony([settings])
        async with EngineAmd(tel, AudioSocketSettings(port=0)) as amd:
            await tel.start()
            events = tel.events().__aiter__()

            async def call(n: int, server: str, *, hang: bool = True) -> CallAnswered:
                emu.set_dialplan(DialplanConfig.dialer_dialplan(audiosocket_server=server))
                emu.queue_scripts(CallScript(Outcome.MACHINE, ring=0.0))
                await tel.originate(Originate(CallId(f"c{n}"), LeadId("l"), "5215512345678", 25.0))
                while True:
                    ev = await asyncio.wait_for(events.__anext__(), 5)
                    if isinstance(ev, CallAnswered) and ev.call == CallId(f"c{n}"):
                        if hang:
                            await tel.hangup(ev.call)
                        return ev

            with caplog.at_level(logging.INFO, logger="telephony.ami"):
                await call(1, down)
                await call(2, down)
                answered = await call(3, amd.address, hang=False)
                # The UserEvent SUCCESS comes after the verdict (our FIN): leave the call
                # alone until then, a Hangup first would close the stream without it.
                for _ in range(100):
                    if "reachable again" in caplog.text:
                        break
                    await asyncio.sleep(0.02)
                await tel.hangup(CallId("c3"))
                await call(4, down)
            await tel.close()
    assert answered.verdict is amd.results[emu.audio_streams[2].as_uuid].amd_verdict
    lines = [r for r in caplog.records if r.name == "telephony.ami" and "AudioSocket" in r.message]
    assert [(r.levelno, "reachable again" in r.getMessage()) for r in lines] == [
        (logging.WARNING, False),
        (logging.INFO, True),
        (logging.WARNING, False),
    ]


def test_simulate_engine_amd_needs_a_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    from dialer.cli import main  # noqa: PLC0415

    scenario = CORPUS.parents[2] / "scenarios" / "steady-20.toml"
    base = ["simulate", str(scenario), "--backend", "ami-emulator", "--amd", "engine"]
    assert main(base) == 2
    assert "--amd-corpus" in capsys.readouterr().err
    assert main([*base, "--amd-corpus", str(CORPUS / "clips")]) == 2
    assert "manifest.csv" in capsys.readouterr().err
