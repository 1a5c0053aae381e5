"""The AudioSocket server over real loopback TCP: captured Asterisk byte streams, corpus
clips (socket verdicts equal offline verdicts), faults, and many streams at once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import numpy as np
import pytest

from telephony.amd.detector import DetectorResult, Verdict
from telephony.amd_corpus import run_detector
from telephony.audiosocket_client import replay_bytes, stream_call
from telephony.audiosocket_protocol import SILENCE_FRAME, FrameParser, Kind, build_frame, uuid_frame
from telephony.audiosocket_server import AudioSocketServer, AudioSocketSettings
from telephony.wavfile import read_wav

SHARED = Path(__file__).resolve().parents[2] / "shared"
AS_DIR = SHARED / "fixtures" / "asterisk-ami" / "audiosocket"
CLIPS = SHARED / "data" / "amd-corpus" / "dev" / "clips"


class Sink:
    def __init__(self) -> None:
        self.verdicts: dict[uuid.UUID, DetectorResult] = {}
        self.ended: dict[uuid.UUID, str] = {}

    def verdict(self, call: uuid.UUID, result: DetectorResult) -> None:
        self.verdicts[call] = result

    def end(self, call: uuid.UUID, why: str) -> None:
        self.ended[call] = why


def server(sink: Sink, **kw: float) -> AudioSocketServer:
    settings = AudioSocketSettings(port=0, **kw)  # type: ignore[arg-type]
    return AudioSocketServer(settings, on_verdict=sink.verdict, on_ended=sink.end)


def rx_audio(name: str) -> tuple[uuid.UUID, np.ndarray]:
    frames = FrameParser().feed((AS_DIR / f"{name}.rx.bin").read_bytes())
    pcm = b"".join(f.payload for f in frames if f.kind == Kind.AUDIO)
    return uuid.UUID(bytes=frames[0].payload), np.frombuffer(pcm, dtype="<i2").astype(np.int16)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["as_human_es", "as_machine_es", "as_fax", "as_dtmf"])
async def test_captured_stream_gets_the_offline_verdict_and_a_fin(name: str) -> None:
    sink = Sink()
    call, audio = rx_audio(name)
    async with server(sink) as srv:
        srv.expect(call)
        data = (AS_DIR / f"{name}.rx.bin").read_bytes()
        _, closed = await replay_bytes(
            "127.0.0.1", srv.port, data, piece=200, linger_s=3.0, eof=True
        )
    assert closed  # the server handed the call back (FIN)
    offline = run_detector(audio)
    if call in sink.verdicts:
        assert sink.verdicts[call].verdict == offline.verdict
    else:  # the capture is 2 s long: the detector had not decided when Asterisk closed
        assert offline.verdict.value and sink.ended[call] == "closed by Asterisk"


@pytest.mark.asyncio
async def test_no_media_gets_keepalives_then_silence_at_the_limit() -> None:
    sink = Sink()
    data = (AS_DIR / "as_nomedia.rx.bin").read_bytes()
    call = uuid.UUID(bytes=FrameParser().feed(data)[0].payload)
    async with server(sink, analysis_limit_s=0.8, keepalive_s=0.1) as srv:
        got, closed = await replay_bytes("127.0.0.1", srv.port, data, linger_s=3.0)
    assert closed
    frames = FrameParser().feed(got)
    assert len(frames) >= 5 and all(f.kind == Kind.AUDIO for f in frames)
    assert got.startswith(SILENCE_FRAME)
    assert sink.verdicts[call].verdict == Verdict.SILENCE


@pytest.mark.asyncio
async def test_garbage_first_frame_is_logged_and_closed(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    caplog.set_level(logging.INFO, logger="dialer.audiosocket")
    async with server(sink) as srv:
        _, closed = await replay_bytes("127.0.0.1", srv.port, b"GET / HTTP/1.1\r\n\r\n")
        assert closed
        # The server still serves the next call.
        call = uuid.uuid4()
        out = await stream_call(
            "127.0.0.1", srv.port, call, read_wav(CLIPS / "dev-0004.wav"), speed=0
        )
    assert "expected UUID" in caplog.text
    assert out.closed_by_server and call in sink.verdicts


@pytest.mark.asyncio
async def test_unknown_kind_reports_not_sure_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    call = uuid.uuid4()
    data = uuid_frame(call) + build_frame(0x10, bytes(320)) + build_frame(0x42, b"xyz")
    async with server(sink) as srv:
        _, closed = await replay_bytes("127.0.0.1", srv.port, data)
    assert closed
    assert sink.verdicts[call].verdict == Verdict.NOT_SURE
    assert "protocol error" in caplog.text and "0x42" in caplog.text


@pytest.mark.asyncio
async def test_unexpected_uuid_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    call = uuid.uuid4()
    async with server(sink) as srv:
        srv.expect(uuid.uuid4())
        await stream_call("127.0.0.1", srv.port, call, read_wav(CLIPS / "dev-0004.wav"), speed=0)
    assert "not expected" in caplog.text and call in sink.verdicts


@pytest.mark.asyncio
async def test_stream_that_never_ends_is_cut_at_the_limit() -> None:
    sink = Sink()
    call = uuid.uuid4()
    noise = (np.random.default_rng(1).normal(0, 3000, 8000 * 60)).astype(np.int16)
    async with server(sink, analysis_limit_s=0.5) as srv:
        out = await stream_call("127.0.0.1", srv.port, call, noise, speed=2.0)
    assert out.closed_by_server and out.closed_at_s is not None and out.closed_at_s < 2.0
    assert call in sink.verdicts


CORPUS_SAMPLE = ["dev-0001", "dev-0004", "dev-0017", "dev-0019", "dev-0030", "dev-0084"]


@pytest.mark.asyncio
async def test_socket_verdicts_equal_offline_verdicts() -> None:
    sink = Sink()
    calls = {uuid.uuid4(): name for name in CORPUS_SAMPLE}
    async with server(sink, analysis_limit_s=30.0) as srv:
        await asyncio.gather(
            *(
                stream_call("127.0.0.1", srv.port, c, read_wav(CLIPS / f"{n}.wav"), speed=0)
                for c, n in calls.items()
            )
        )
    for c, name in calls.items():
        offline = run_detector(read_wav(CLIPS / f"{name}.wav"))
        assert sink.verdicts[c].verdict == offline.verdict, name
        assert sink.verdicts[c].at_s == offline.at_s


async def _many(n: int, speed: float) -> Sink:
    sink = Sink()
    clips = [read_wav(CLIPS / f"{name}.wav")[: 8000 * 6] for name in CORPUS_SAMPLE]
    async with server(sink, analysis_limit_s=30.0) as srv:
        calls = [uuid.uuid4() for _ in range(n)]
        outs = await asyncio.gather(
            *(
                # As Asterisk, keep the line open after the clip until the server is done.
                stream_call(
                    "127.0.0.1", srv.port, c, clips[i % len(clips)], speed=speed, hold_open_s=20.0
                )
                for i, c in enumerate(calls)
            )
        )
    assert all(o.closed_by_server for o in outs)
    assert set(sink.verdicts) == set(calls), {sink.ended.get(c) for c in calls}
    return sink


@pytest.mark.asyncio
async def test_a_hundred_streams_at_once() -> None:
    await _many(100, speed=20.0)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_five_hundred_streams_at_once() -> None:
    await _many(500, speed=5.0)
