"""The emulator's ``TryExec(AudioSocket())``: what a server sees, and the AMI events around it.

A small scripted AudioSocket server (real TCP on 127.0.0.1) stands in for ours, so each
ending the fixtures README captured can be played: FIN, hangup frame, error frame,
nothing listening, a bad UUID, the callee hanging up, a Redirect, a silent far end.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from simulator.ami_audio import WAIT_FOR_SILENCE_S, CallAudio
from simulator.ami_audiosocket import StreamEnd
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from telephony.audiosocket_protocol import Frame, FrameParser, Kind, build_frame
from tests.ami_raw_client import RAW_SECRET, RawAmiClient, originate_headers
from tests.ami_raw_client import field as hdr

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "amd-corpus" / "dev"
SCALE = 0.05


@dataclass
class Seen:
    """What the scripted server received on one connection."""

    frames: list[Frame] = field(default_factory=list)
    eof: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def uuid(self) -> uuid.UUID:
        assert self.frames[0].kind == Kind.UUID
        return uuid.UUID(bytes=self.frames[0].payload)

    @property
    def audio(self) -> bytes:
        return b"".join(f.payload for f in self.frames if f.kind == Kind.AUDIO)


class ScriptedServer:
    """After ``after_bytes`` of audio: ``end`` is ``fin``, ``hangup`` (00 00 00),
    ``error`` (ff 00 00) or ``wait`` (nothing: Asterisk must end it)."""

    def __init__(self, end: str, after_bytes: int = 320 * 25) -> None:
        self.end, self.after = end, after_bytes
        self.seen: list[Seen] = []
        self.server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen = Seen()
        self.seen.append(seen)
        parser, acted = FrameParser(), False
        while data := await reader.read(65536):
            seen.frames.extend(parser.feed(data))
            if not acted and len(seen.audio) >= self.after:
                acted = True
                if self.end == "fin":
                    writer.write_eof()
                elif self.end in ("hangup", "error"):
                    writer.write(build_frame(Kind.HANGUP if self.end == "hangup" else Kind.ERROR))
        seen.eof.set()
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def audio() -> CallAudio:
    return CallAudio(CORPUS, seed=11)


@pytest_asyncio.fixture
async def emu(audio: CallAudio) -> AsyncIterator[AmiEmulator]:
    async with AmiEmulator(
        secret=RAW_SECRET, time_scale=SCALE, dialplan=DialplanConfig.dialer_dialplan(), audio=audio
    ) as e:
        yield e


async def client(emu: AmiEmulator) -> RawAmiClient:
    c = RawAmiClient()
    await c.connect(emu.host, emu.port)
    await c.login(events="system,call,user,dialplan")
    return c


def originate(c: RawAmiClient, call: str, server: str, as_uuid: str | None = None) -> str:
    as_uuid = as_uuid or str(uuid.uuid4())
    c.send(
        *originate_headers(call, "engine"),
        ("Variable", f"CALLID={call}"),
        ("Variable", f"LEADID=lead-{call}"),
        ("Variable", f"DIALER_AS_UUID={as_uuid}"),
        ("Variable", f"DIALER_AS_SERVER={server}"),
    )
    return as_uuid


def test_call_audio_picks_clips_by_outcome_seeded(audio: CallAudio) -> None:
    again = CallAudio(CORPUS, seed=11)
    outcomes = [Outcome.HUMAN, Outcome.MACHINE, Outcome.FAX, Outcome.SIT, Outcome.DEAD_AIR]
    a = [audio.for_call(CallScript(o)) for o in outcomes]
    b = [again.for_call(CallScript(o)) for o in outcomes]
    assert [s.clip for s in a] == [s.clip for s in b]
    labels = [audio.clip(s.clip).label for s in a if s.clip is not None]
    assert labels == ["human", "machine", "fax", "sit", "silence"]
    msg = audio.for_call(CallScript(Outcome.MACHINE_MESSAGE))
    assert msg.clip is not None
    clip = audio.clip(msg.clip)
    assert clip.beep_end_s is not None  # a machine with a beep
    assert msg.beep_after == pytest.approx(clip.beep_end_s + WAIT_FOR_SILENCE_S)
    # AMD()'s fallback verdict is the app_amd port's on the same clip.
    status, cause, at = audio.asterisk_amd(clip)
    assert (msg.amd_status, msg.amd_cause, msg.amd_delay) == (status, cause, at)
    named = audio.for_call(CallScript(Outcome.HUMAN, clip="dev-0017", amd_status="HUMAN"))
    assert (named.clip, named.amd_status) == ("clips/dev-0017.wav", "HUMAN")
    assert audio.for_call(CallScript(Outcome.DEAD_AIR_NOMEDIA)).clip is None
    with pytest.raises(ValueError, match="dev-9999"):
        audio.for_call(CallScript(Outcome.HUMAN, clip="dev-9999"))
    with pytest.raises(ValueError, match="clip"):
        CallScript(Outcome.HUMAN, clip=" ")
    with pytest.raises(ValueError, match="audiosocket_server"):
        DialplanConfig(audiosocket_server="localhost")


@pytest.mark.asyncio
async def test_fin_hands_the_call_back_and_the_stream_is_the_clip(
    emu: AmiEmulator, audio: CallAudio
) -> None:
    async with ScriptedServer("fin") as srv:
        c = await client(emu)
        emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0, clip="dev-0017"))
        as_uuid = originate(c, "f1", srv.address)
        done = await c.event("UserEvent", UserEvent="AudioSocketDone")
        assert (hdr(done, "TryStatus"), hdr(done, "AsUUID")) == ("SUCCESS", as_uuid)
        seen = srv.seen[0]
        assert str(seen.uuid) == as_uuid  # the 16 raw bytes of the dialplan's UUID
        audio_frames = [f for f in seen.frames[1:] if f.kind == Kind.AUDIO]
        assert all(len(f.payload) == 320 for f in audio_frames)
        clip = audio.samples(audio.clip("dev-0017")).astype("<i2").tobytes()
        assert clip.startswith(seen.audio)  # bit-identical, from sample 0 (fidelity.txt)
        assert [b for b in c.events("VarSet") if hdr(b, "Variable") == "TRYSTATUS"]
        # Nobody routes it (no engine here): after DIALER_HOLD the abandon message.
        await c.event("UserEvent", UserEvent="Abandoned")
        record = emu.audio_streams[0]
        assert (record.end, record.clip, record.call) == (
            StreamEnd.SERVER_CLOSED,
            "clips/dev-0017.wav",
            "f1",
        )
        await c.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("end", "status"), [("hangup", "SUCCESS"), ("error", "FAILED")])
async def test_hangup_frame_succeeds_error_frame_falls_back_to_amd(
    emu: AmiEmulator, end: str, status: str
) -> None:
    async with ScriptedServer(end) as srv:
        c = await client(emu)
        emu.queue_scripts(CallScript(Outcome.MACHINE, ring=0.0))
        originate(c, "h1", srv.address)
        done = await c.event("UserEvent", UserEvent="AudioSocketDone")
        assert hdr(done, "TryStatus") == status
        if status == "FAILED":  # as_error_frame_tryexec: AMD() on the same call
            verdict = await c.event("UserEvent", UserEvent="AMDResult")
            assert hdr(verdict, "AMDStatus") in {"HUMAN", "MACHINE", "NOTSURE"}
        await c.close()


@pytest.mark.asyncio
async def test_nothing_listening_and_bad_uuid_fall_back_without_a_stream(
    emu: AmiEmulator,
) -> None:
    c = await client(emu)
    emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0), CallScript(Outcome.HUMAN, ring=0.0))
    originate(c, "d1", f"127.0.0.1:{free_port()}")
    done = await c.event("UserEvent", UserEvent="AudioSocketDone", CallID="d1")
    assert hdr(done, "TryStatus") == "FAILED"
    await c.event("UserEvent", UserEvent="AMDResult", CallID="d1")
    assert emu.audio_streams[0].end is StreamEnd.REFUSED
    originate(c, "d2", "127.0.0.1:9", as_uuid="call-as_bad_uuid-19")  # as_bad_uuid
    done = await c.event("UserEvent", UserEvent="AudioSocketDone", CallID="d2")
    assert hdr(done, "TryStatus") == "FAILED"
    assert len(emu.audio_streams) == 1  # no connect for a UUID that does not parse
    await c.close()


@pytest.mark.asyncio
async def test_callee_hangup_and_redirect_close_the_socket_without_a_frame(
    emu: AmiEmulator,
) -> None:
    async with ScriptedServer("wait", after_bytes=10**9) as srv:
        c = await client(emu)
        emu.queue_scripts(CallScript(Outcome.ANSWER_HANGUP, ring=0.0, hangup_after=1.0))
        originate(c, "g1", srv.address)
        await c.event("Hangup", Uniqueid="g1-a")
        await asyncio.wait_for(srv.seen[0].eof.wait(), 2.0)
        assert all(f.kind in (Kind.UUID, Kind.AUDIO) for f in srv.seen[0].frames)
        # The dialplan did not go on: no AudioSocketDone for a channel that is gone.
        assert all(hdr(b, "UserEvent") != "AudioSocketDone" for b in c.events("UserEvent"))
        emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0))
        originate(c, "g2", srv.address)
        while len(srv.seen) < 2 or len(srv.seen[1].audio) < 320 * 5:
            await asyncio.sleep(0.01)
        c.send(
            ("Action", "Redirect"),
            ("ActionID", "r-g2"),
            ("Channel", "g2-a"),
            ("Context", "dialer-route"),
            ("Exten", "abandon"),
            ("Priority", "1"),
        )
        await c.event("UserEvent", UserEvent="Abandoned", CallID="g2")
        await asyncio.wait_for(srv.seen[1].eof.wait(), 2.0)
        assert emu.audio_streams[1].end is StreamEnd.CHANNEL_GONE
        await c.close()


@pytest.mark.asyncio
async def test_silent_far_end_times_out_after_two_seconds_of_no_frames(
    emu: AmiEmulator,
) -> None:
    async with ScriptedServer("wait", after_bytes=10**9) as srv:
        c = await client(emu)
        emu.pbx.audio_idle_timeout = 0.3  # wall seconds (2.0 as Asterisk, shortened)
        emu.queue_scripts(CallScript(Outcome.DEAD_AIR_NOMEDIA, ring=0.0))
        originate(c, "n1", srv.address)
        done = await c.event("UserEvent", UserEvent="AudioSocketDone")
        assert hdr(done, "TryStatus") == "FAILED"  # as_nomedia, under TryExec
        assert [f.kind for f in srv.seen[0].frames] == [Kind.UUID]  # no frames at all
        record = emu.audio_streams[0]
        assert record.end is StreamEnd.IDLE_TIMEOUT
        assert "no activity" in record.detail
        assert record.clip is None and record.sent_s == 0
        await c.close()


@pytest.mark.asyncio
async def test_frames_are_paced_by_the_time_scale(emu: AmiEmulator) -> None:
    async with ScriptedServer("fin", after_bytes=320 * 200) as srv:
        c = await client(emu)
        emu.queue_scripts(CallScript(Outcome.HUMAN, ring=0.0, clip="dev-0017"))
        originate(c, "p1", srv.address)
        await c.event("UserEvent", UserEvent="AudioSocketDone")
        record = emu.audio_streams[0]
        # 4 s of audio, one 20 ms frame per 20 ms x time_scale of wall time.
        assert record.sent_s >= 4.0
        assert record.wall_s >= 4.0 * SCALE * 0.9
        await c.close()
