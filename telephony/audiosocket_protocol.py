"""The AudioSocket wire protocol, as captured from Asterisk 22.10.1 (pure: bytes in,
frames out; no sockets).

Source: ../shared/fixtures/asterisk-ami/README.md, "The AudioSocket protocol as
captured". A frame is ``kind`` (1 byte), ``length`` (2 bytes, unsigned big-endian,
payload only), then the payload. Asterisk sends the call's UUID first (16 raw bytes,
RFC 4122 order), then audio (signed 16-bit little-endian, 8 kHz mono; usually 320 bytes,
shorter ones occur) and DTMF (one ASCII digit, sent when the digit ends). Asterisk never
sent HANGUP or ERROR; it ends by closing the connection. From the server, HANGUP (or a
FIN) hands the call back to the dialplan; ERROR makes the app fail and the call hang up.
Frames are parsed by their length field, never by assumed sizes or TCP reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER_LEN = 3
MAX_PAYLOAD = 0xFFFF
AUDIO_FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10  # slin, 8 kHz: what app_audiosocket always sends
    # 0x11-0x18 (slin12 ... slin192) exist for chan_audiosocket; never seen from the app.
    ERROR = 0xFF


KNOWN_KINDS = frozenset(int(k) for k in Kind)
AUDIO_KINDS_OTHER_RATES = frozenset(range(0x11, 0x19))


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: ``kind`` as the raw byte (unknown kinds are kept, for the caller to
    reject) and its payload."""

    kind: int
    payload: bytes

    @property
    def name(self) -> str:
        try:
            return Kind(self.kind).name
        except ValueError:
            return f"0x{self.kind:02x}"


class FrameParser:
    """Incremental parser: ``feed`` any byte chunks; get the whole frames so far."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= HEADER_LEN:
            length = (buf[pos + 1] << 8) | buf[pos + 2]
            end = pos + HEADER_LEN + length
            if end > len(buf):
                break
            frames.append(Frame(buf[pos], bytes(buf[pos + HEADER_LEN : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames


def build_frame(kind: int, payload: bytes = b"") -> bytes:
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"kind must be one byte, got {kind}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes((kind, len(payload) >> 8, len(payload) & 0xFF)) + payload


def uuid_frame(call: uuid.UUID) -> bytes:
    """The first frame Asterisk sends: the UUID's 16 raw bytes."""
    return build_frame(Kind.UUID, call.bytes)


def audio_frame(pcm: bytes) -> bytes:
    """16-bit little-endian 8 kHz PCM (any even length up to 65535 bytes)."""
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM needs an even byte count, got {len(pcm)}")
    return build_frame(Kind.AUDIO, pcm)


def dtmf_frame(digit: str) -> bytes:
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return build_frame(Kind.DTMF, digit.encode("ascii"))


HANGUP_FRAME = build_frame(Kind.HANGUP)  # 00 00 00: the app returns 0 (call goes on)
ERROR_FRAME = build_frame(Kind.ERROR)  # ff 00 00: the app returns -1 (call hung up)
SILENCE_FRAME = audio_frame(bytes(AUDIO_FRAME_BYTES))  # keepalive (as_nomedia_keepalive)


class BadFrame(ValueError):  # noqa: N818
    """A frame that breaks the protocol; the message says which and why."""


def parse_uuid(frame: Frame) -> uuid.UUID:
    """The call UUID of a first frame; ``BadFrame`` if it is not a 16-byte UUID frame."""
    if frame.kind != Kind.UUID:
        raise BadFrame(f"first frame is {frame.name}, expected UUID (0x01)")
    if len(frame.payload) != 16:
        raise BadFrame(f"UUID frame has {len(frame.payload)} bytes, expected 16")
    return uuid.UUID(bytes=frame.payload)
