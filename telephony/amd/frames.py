"""PCM framing: bytes or sample arrays of any length in, 20 ms frames out.

The detector works on 20 ms frames of 8 kHz audio (160 samples), the unit Asterisk and
AudioSocket use (fixtures/asterisk-ami/README.md: 320-byte frames; 276 and 84 occur at
the end of a played file). Input is parsed by its length, never by an assumed size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000  # Hz
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # seconds per frame

Samples = npt.NDArray[np.int16]


class PcmFormatError(ValueError):
    """PCM bytes that cannot be 16-bit samples (an odd number of bytes)."""


def pcm_to_samples(data: bytes) -> Samples:
    """Signed 16-bit little-endian PCM bytes -> int16 samples (a copy)."""
    if len(data) % 2:
        raise PcmFormatError(f"16-bit PCM needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


class FrameAssembler:
    """Cuts a stream of sample chunks of any length into whole 160-sample frames.

    A partial frame is held until the next chunk completes it, so the frames the
    detector sees do not depend on how the audio was chunked on the wire.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: Samples = np.zeros(0, dtype=np.int16)

    @property
    def pending_samples(self) -> int:
        return int(self._pending.size)

    def push(self, samples: Samples) -> list[Samples]:
        """Add ``samples``; return the whole frames now available, oldest first."""
        if not self._pending.size and samples.size == FRAME_SAMPLES:
            return [samples]  # the common case: one 20 ms frame, nothing held
        buf = np.concatenate((self._pending, samples)) if self._pending.size else samples
        n = buf.size // FRAME_SAMPLES
        frames = [buf[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]
        self._pending = buf[n * FRAME_SAMPLES :].copy()
        return frames
