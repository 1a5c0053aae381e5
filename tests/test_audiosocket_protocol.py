"""The AudioSocket frame parser against the byte streams captured from Asterisk 22."""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path

import pytest

from telephony.audiosocket_protocol import (
    ERROR_FRAME,
    HANGUP_FRAME,
    SILENCE_FRAME,
    BadFrame,
    Frame,
    FrameParser,
    Kind,
    audio_frame,
    build_frame,
    dtmf_frame,
    parse_uuid,
    uuid_frame,
)

AS_DIR = (
    Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "asterisk-ami" / "audiosocket"
)
STREAMS = sorted(p.name.removesuffix(".rx.bin") for p in AS_DIR.glob("as_*.rx.bin"))
LINE = re.compile(r"^\s*[\d.]+\s+rx\s+0x([0-9a-f]{2})\s+\S+\s+(\d+)")


def listed_rx_frames(name: str) -> list[tuple[int, int]]:
    """(kind, length) of every rx frame in the capture's frame listing."""
    out = []
    for line in (AS_DIR / f"{name}.frames.txt").read_text(encoding="utf-8").splitlines():
        m = LINE.match(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2))))
    return out


def test_fixture_streams_are_present() -> None:
    assert "as_human_es" in STREAMS and "as_dtmf" in STREAMS and len(STREAMS) >= 15


@pytest.mark.parametrize("name", STREAMS)
def test_parser_matches_the_frame_listing_whatever_the_chunking(name: str) -> None:
    data = (AS_DIR / f"{name}.rx.bin").read_bytes()
    expected = listed_rx_frames(name)
    rng = random.Random(name)
    for pieces in ("whole", "bytes", "random"):
        parser = FrameParser()
        frames: list[Frame] = []
        if pieces == "whole":
            frames += parser.feed(data)
        elif pieces == "bytes":
            for i in range(len(data)):
                frames += parser.feed(data[i : i + 1])
        else:
            pos = 0
            while pos < len(data):
                n = rng.randint(1, 700)
                frames += parser.feed(data[pos : pos + n])
                pos += n
        assert [(f.kind, len(f.payload)) for f in frames] == expected
        assert parser.pending == 0


def test_first_frame_is_the_uuid_in_raw_bytes() -> None:
    data = (AS_DIR / "as_human_es.rx.bin").read_bytes()
    first = FrameParser().feed(data)[0]
    assert parse_uuid(first) == uuid.UUID("da87b1e9-24f4-4937-9550-623c16a6c923")


def test_dtmf_frames_carry_ascii_digits() -> None:
    frames = FrameParser().feed((AS_DIR / "as_dtmf.rx.bin").read_bytes())
    digits = [f.payload.decode() for f in frames if f.kind == Kind.DTMF]
    assert digits == ["1", "2", "#"]
    assert {len(f.payload) for f in frames if f.kind == Kind.AUDIO} == {320, 276}


def test_server_frames_match_the_captured_tx_bytes() -> None:
    assert (AS_DIR / "as_error_frame.tx.bin").read_bytes() == ERROR_FRAME
    assert (AS_DIR / "as_human_en_hangupframe.tx.bin").read_bytes() == HANGUP_FRAME
    keepalive = (AS_DIR / "as_nomedia_keepalive.tx.bin").read_bytes()
    assert keepalive == SILENCE_FRAME * (len(keepalive) // len(SILENCE_FRAME))


def test_builders_round_trip() -> None:
    u = uuid.uuid4()
    data = uuid_frame(u) + audio_frame(b"\x01\x00" * 42) + dtmf_frame("#") + HANGUP_FRAME
    frames = FrameParser().feed(data)
    assert parse_uuid(frames[0]) == u
    assert [f.name for f in frames] == ["UUID", "AUDIO", "DTMF", "HANGUP"]
    assert frames[1].payload == b"\x01\x00" * 42


def test_bad_frames_are_named() -> None:
    with pytest.raises(BadFrame, match="expected UUID"):
        parse_uuid(Frame(Kind.AUDIO, b"\x00" * 16))
    with pytest.raises(BadFrame, match="5 bytes"):
        parse_uuid(Frame(Kind.UUID, b"\x00" * 5))
    with pytest.raises(ValueError, match="even"):
        audio_frame(b"\x00")
    with pytest.raises(ValueError, match="exceeds"):
        build_frame(0x10, bytes(70000))
    assert Frame(0x42, b"").name == "0x42"
