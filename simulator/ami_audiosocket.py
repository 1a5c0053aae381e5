"""Asterisk's side of ``AudioSocket()`` for the AMI emulator (app_audiosocket as captured).

``stream_call`` is what the emulated ``TryExec(AudioSocket(${DIALER_AS_UUID},host:port))``
does on an answered call, following ``shared/fixtures/asterisk-ami/README.md``
("The AudioSocket protocol as captured", the ``as_*`` scenario table):

- it connects to the server (non-blocking, 2 s limit; a refusal fails the app at once:
  as_server_down_tryexec, TRYSTATUS=FAILED after ~12 ms);
- sends the UUID frame (16 raw bytes), then the far end's audio as 320-byte frames of
  16-bit little-endian 8 kHz PCM, each with its own write, one per 20 ms of modelled
  time (``time_scale`` wall seconds per modelled second), the last one shorter if the
  clip ends mid-frame; after the clip the far end is silent and nothing is sent
  (Asterisk sends no filler);
- reads what the server sends: audio frames count as activity (keepalives); a FIN/EOF
  or a hangup frame ``00 00 00`` ends the app with 0 (TRYSTATUS=SUCCESS); an error frame
  or any other kind ends it with -1 (TRYSTATUS=FAILED, as_error_frame_tryexec);
- ``idle_timeout`` wall seconds with no frame in either direction fail it (as_nomedia:
  "Reached timeout after 2000 ms of no activity"). Wall, not modelled, seconds: the
  server's keepalive is timed on the wall clock too;
- if the channel goes away first (hangup, Redirect: the task is cancelled) it closes the
  connection without a hangup frame (as_callee_hangup, as_redirect_during).

Each stream leaves a ``StreamRecord`` (what was played and how it ended) for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from telephony.audiosocket_protocol import (
    AUDIO_FRAME_BYTES,
    FrameParser,
    Kind,
    audio_frame,
    uuid_frame,
)

log = logging.getLogger("simulator.ami_audiosocket")

CONNECT_LIMIT_S = 2.0  # res_audiosocket's non-blocking connect limit (fixtures README)
FRAME_S = 0.02  # 160 samples at 8 kHz


class StreamEnd(StrEnum):
    """How an ``AudioSocket()`` run ended; ``succeeded`` says what TRYSTATUS becomes."""

    SERVER_CLOSED = "server_closed"  # FIN or full close: returns 0
    HANGUP_FRAME = "hangup_frame"  # 00 00 00: returns 0
    ERROR_FRAME = "error_frame"  # ff 00 00 (or any other kind): returns -1
    REFUSED = "refused"  # connect failed: returns -1
    IDLE_TIMEOUT = "idle_timeout"  # 2 s with no frame either way: returns -1
    CHANNEL_GONE = "channel_gone"  # hangup or Redirect: the dialplan does not go on

    @property
    def succeeded(self) -> bool:
        return self in (StreamEnd.SERVER_CLOSED, StreamEnd.HANGUP_FRAME)


@dataclass(slots=True)
class StreamRecord:
    """One stream as the emulator played it. ``call``: the ``CALLID`` channel variable;
    ``clip``/``label``: what the far end played (``None``: no media); ``sent_s``: seconds
    of audio sent; ``server``: ``host:port``; ``end``: how it ended (``None`` while
    running); ``wall_s``: wall seconds from the connect to the end."""

    call: str
    as_uuid: str
    server: str
    clip: str | None
    label: str | None
    sent_s: float = 0.0
    end: StreamEnd | None = None
    wall_s: float = 0.0
    detail: str = ""


async def stream_call(
    record: StreamRecord,
    *,
    host: str,
    port: int,
    call_uuid: uuid.UUID,
    samples: npt.NDArray[np.int16] | None,
    time_scale: float,
    idle_timeout: float = 2.0,
) -> StreamEnd:
    """Play one ``AudioSocket()`` run (see the module docstring); sets ``record.end``.

    ``call_uuid``: the call's UUID (sent as its 16 raw bytes); ``samples``: the far
    end's audio (``None``: no media). Cancelling the task is the channel going away:
    the socket is closed.
    """
    started = time.monotonic()
    try:
        end = await _run(
            record,
            host=host,
            port=port,
            call_uuid=call_uuid,
            samples=samples,
            time_scale=time_scale,
            idle_timeout=idle_timeout,
        )
    finally:
        record.wall_s = time.monotonic() - started
    record.end = end
    return end


async def _run(
    record: StreamRecord,
    *,
    host: str,
    port: int,
    call_uuid: uuid.UUID,
    samples: npt.NDArray[np.int16] | None,
    time_scale: float,
    idle_timeout: float,
) -> StreamEnd:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_LIMIT_S):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        record.detail = f"Connecting to '{host}:{port}' failed: {exc or 'timeout'}"
        return StreamEnd.REFUSED
    last = loop.time()  # last frame either way (Asterisk's inactivity timer)
    outcome: asyncio.Future[StreamEnd] = loop.create_future()

    def finish(end: StreamEnd, detail: str = "") -> None:
        if not outcome.done():
            record.detail = record.detail or detail
            outcome.set_result(end)

    async def listen() -> None:
        nonlocal last
        parser = FrameParser()
        try:
            while data := await reader.read(65536):
                for frame in parser.feed(data):
                    last = loop.time()
                    if frame.kind == Kind.AUDIO:
                        continue  # played to the callee (keepalive silence, tones)
                    if frame.kind == Kind.HANGUP:
                        finish(StreamEnd.HANGUP_FRAME)
                        return
                    finish(
                        StreamEnd.ERROR_FRAME,
                        "Received AudioSocket message other than hangup or audio",
                    )
                    return
        except (ConnectionError, ValueError) as exc:
            finish(StreamEnd.ERROR_FRAME, f"Failed to receive frame: {exc}")
            return
        finish(StreamEnd.SERVER_CLOSED)

    async def talk() -> None:
        nonlocal last
        writer.write(uuid_frame(call_uuid))
        last = loop.time()
        if samples is not None:
            pcm = np.asarray(samples, dtype="<i2").tobytes()
            t0 = loop.time()
            for i, off in enumerate(range(0, len(pcm), AUDIO_FRAME_BYTES)):
                delay = t0 + i * FRAME_S * time_scale - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                chunk = pcm[off : off + AUDIO_FRAME_BYTES]
                writer.write(audio_frame(chunk))
                record.sent_s += len(chunk) / 2 / 8000
                last = loop.time()
                await writer.drain()
        # The far end is silent now: Asterisk sends nothing; 2 s without frames either
        # way and the app fails (as_nomedia).
        while True:
            left = last + idle_timeout - loop.time()
            if left <= 0:
                finish(
                    StreamEnd.IDLE_TIMEOUT,
                    f"Reached timeout after {idle_timeout * 1000:.0f} ms of no activity",
                )
                return
            await asyncio.sleep(left)

    tasks = [asyncio.ensure_future(listen()), asyncio.ensure_future(talk())]
    try:
        for t in tasks:
            t.add_done_callback(lambda f: _stream_error(f, finish))
        return await outcome
    except asyncio.CancelledError:
        record.end = StreamEnd.CHANNEL_GONE
        raise
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            writer.close()  # EOF to the server, no hangup frame (as captured)


def _stream_error(task: asyncio.Future[None], finish: Callable[[StreamEnd, str], None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        # A write to a server that went away: the connection is lost (app returns -1).
        finish(StreamEnd.ERROR_FRAME, f"Failed to write frame: {exc!r}")
