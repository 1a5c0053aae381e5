"""Play Asterisk's side of an AudioSocket call: connect, send the UUID, stream audio.

For tests, benchmarks and the AMI emulator: ``stream_call`` streams int16 samples to an
AudioSocket server as app_audiosocket does (UUID frame first, then 320-byte audio frames,
each with its own write, paced 20 ms apart divided by ``speed``; ``speed=0`` sends as
fast as possible) and stops when the server closes its side (a FIN, the hand-back), as
Asterisk does. ``replay_bytes`` writes a captured byte stream in arbitrary pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from telephony.audiosocket_protocol import (
    AUDIO_FRAME_BYTES,
    Frame,
    FrameParser,
    audio_frame,
    uuid_frame,
)

FRAME_S = 0.02


@dataclass
class StreamOutcome:
    """What the client saw: audio seconds sent, whether and when (seconds after connect,
    wall clock) the server closed, and the frames the server sent (keepalives)."""

    sent_s: float = 0.0
    closed_by_server: bool = False
    closed_at_s: float | None = None
    received: list[Frame] = field(default_factory=list)


async def stream_call(
    host: str,
    port: int,
    call: uuid.UUID,
    samples: npt.NDArray[np.int16],
    *,
    speed: float = 1.0,
    hold_open_s: float = 0.0,
) -> StreamOutcome:
    """Stream ``samples`` (8 kHz int16) as call ``call``; after the audio, keep the
    connection open ``hold_open_s`` more seconds (a silent far end sends nothing)."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    out = StreamOutcome()
    start = loop.time()
    parser = FrameParser()
    closed = asyncio.Event()

    async def listen() -> None:
        try:
            while data := await reader.read(65536):
                out.received.extend(parser.feed(data))
        except ConnectionError:
            pass
        out.closed_by_server = True
        out.closed_at_s = loop.time() - start
        closed.set()

    listener = asyncio.create_task(listen())
    try:
        writer.write(uuid_frame(call))
        await writer.drain()
        pcm = np.asarray(samples, dtype="<i2").tobytes()
        for i, off in enumerate(range(0, len(pcm), AUDIO_FRAME_BYTES)):
            if closed.is_set():
                break
            if speed > 0:
                delay = start + i * FRAME_S / speed - loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), delay)
                    if closed.is_set():
                        break
            writer.write(audio_frame(pcm[off : off + AUDIO_FRAME_BYTES]))
            out.sent_s += len(pcm[off : off + AUDIO_FRAME_BYTES]) / 2 / 8000
            await writer.drain()
        if not closed.is_set() and hold_open_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), hold_open_s)
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()  # Asterisk closes its side once the server has (EOF)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), 1.0)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return out


async def replay_bytes(
    host: str,
    port: int,
    data: bytes,
    *,
    piece: int = 323,
    gap_s: float = 0.0,
    linger_s: float = 2.0,
    eof: bool = False,
) -> tuple[bytes, bool]:
    """Write ``data`` in ``piece``-byte writes (``gap_s`` apart), then (``eof``: after a
    FIN, as Asterisk closes at the end of a capture) wait up to ``linger_s`` for the
    server to close. Returns (bytes the server sent, whether it closed)."""
    reader, writer = await asyncio.open_connection(host, port)
    got = bytearray()
    closed = False
    try:
        for off in range(0, len(data), piece):
            writer.write(data[off : off + piece])
            await writer.drain()
            if gap_s:
                await asyncio.sleep(gap_s)
        if eof and writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(linger_s):
            while chunk := await reader.read(65536):
                got += chunk
            closed = True
    except (TimeoutError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
    return bytes(got), closed
