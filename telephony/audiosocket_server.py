"""AudioSocket server: Asterisk streams each answered call's audio to us; one detector per
call; on a verdict we hand the call back to the dialplan and report it.

Behaviour pinned by ../shared/fixtures/asterisk-ami/README.md (Asterisk 22.10.1):
- Asterisk connects (one TCP connection per ``AudioSocket()``), sends the UUID frame
  first, then audio and DTMF; it ends only by closing (callee hangup and AMI Redirect
  look the same: EOF). We learn why from AMI, keyed by the UUID.
- On a verdict the server calls ``on_verdict(uuid, result)`` and sends a FIN
  (``write_eof``): the app returns 0 and the dialplan goes on (TRYSTATUS=SUCCESS). It
  never sends the error frame, which would hang the call up.
- 2 s without a frame in either direction kills the call (as_nomedia): while no audio
  arrives the server sends a 20 ms silent frame every ``keepalive_s`` (as_nomedia_keepalive).
- ``analysis_limit_s`` of wall time after the UUID, the detector decides on what it has
  (or "not sure"/"silence"), so a stream that never ends, or stalls, is cut.
- Garbage (a first frame that is not a UUID, an unknown kind, odd-length audio): a clear
  log line, the verdict NOT_SURE reported for a known UUID, and the connection closed.
  Nothing crashes the server; other calls go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from telephony.amd.detector import AmdDetector, DetectorResult, Verdict
from telephony.audiosocket_protocol import (
    AUDIO_KINDS_OTHER_RATES,
    SILENCE_FRAME,
    BadFrame,
    Frame,
    FrameParser,
    Kind,
    parse_uuid,
)

log = logging.getLogger("dialer.audiosocket")

READ_CHUNK = 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioSocketSettings:
    """``host``/``port``: where to listen (loopback by default: Asterisk runs on the same
    host or reaches us through a tunnel). Seconds for times: ``analysis_limit_s`` of wall
    time after the UUID before the detector must decide; ``keepalive_s``: send a silent
    frame when nothing went either way for this long (Asterisk kills the call at 2 s);
    ``first_frame_timeout_s``: close a connection that sends no UUID; ``close_wait_s``:
    how long to wait for Asterisk's EOF after our FIN; ``backlog``: the listen queue."""

    host: str = "127.0.0.1"
    port: int = 9092
    analysis_limit_s: float = 5.5
    keepalive_s: float = 0.5
    first_frame_timeout_s: float = 2.0
    close_wait_s: float = 1.0
    backlog: int = 1024  # pending connects: a burst of answered calls connects at once

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: must be 0..65535, got {self.port}")
        for name in ("analysis_limit_s", "keepalive_s", "first_frame_timeout_s", "close_wait_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0 seconds")
        if self.keepalive_s >= 2.0:
            raise ValueError("keepalive_s: must be < 2 s (Asterisk's inactivity limit)")


class StreamDetector(Protocol):
    def feed_pcm(self, data: bytes) -> DetectorResult | None: ...
    def finish(self) -> DetectorResult: ...


VerdictCallback = Callable[[uuid.UUID, DetectorResult], None]
EndCallback = Callable[[uuid.UUID, str], None]


class AudioSocketServer:
    """``async with AudioSocketServer(settings, on_verdict=...) as server:`` listens;
    ``server.port`` is the bound port (useful with ``port=0``)."""

    def __init__(
        self,
        settings: AudioSocketSettings | None = None,
        *,
        on_verdict: VerdictCallback,
        on_ended: EndCallback | None = None,
        detector_factory: Callable[[], StreamDetector] = AmdDetector,
    ) -> None:
        self.settings = settings or AudioSocketSettings()
        self._on_verdict = on_verdict
        self._on_ended = on_ended
        self._factory = detector_factory
        self._expected: set[uuid.UUID] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.active = 0  # connections open now
        self.handled = 0  # connections finished

    def expect(self, call: uuid.UUID) -> None:
        """Register a UUID the engine passed to the dialplan; others are logged."""
        self._expected.add(call)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            self.settings.host,
            self.settings.port,
            limit=READ_CHUNK,
            backlog=self.settings.backlog,
        )
        log.info("AudioSocket server listening on %s:%d", self.settings.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> AudioSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.active += 1
        peer = writer.get_extra_info("peername")
        try:
            await _Connection(self, reader, writer, peer).run()
        except asyncio.CancelledError:
            # Server shutdown: end quietly (asyncio's stream callback would log a
            # cancelled handler as an error).
            log.info("AudioSocket connection from %s cancelled at shutdown", peer)
        except Exception:  # one bad call never takes the server down
            log.exception("AudioSocket connection from %s failed", peer)
        finally:
            self.active -= 1
            self.handled += 1
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _report(self, call: uuid.UUID, result: DetectorResult) -> None:
        try:
            self._on_verdict(call, result)
        except Exception:
            log.exception("on_verdict callback failed for call %s", call)

    def _ended(self, call: uuid.UUID, why: str) -> None:
        if self._on_ended is None:
            return
        try:
            self._on_ended(call, why)
        except Exception:
            log.exception("on_ended callback failed for call %s", call)


class _Connection:
    def __init__(
        self,
        server: AudioSocketServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: object,
    ) -> None:
        self.server = server
        self.s = server.settings
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.parser = FrameParser()
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.call: uuid.UUID | None = None
        self.early: list[Frame] = []
        self._head = b""

    async def run(self) -> None:
        first = await self._first_frame()
        if first is None:
            return
        self.call = call = first
        if self.server._expected and call not in self.server._expected:
            log.warning(
                "AudioSocket call %s from %s: UUID not expected by the engine", call, self.peer
            )
        self.server._expected.discard(call)
        det = self.server._factory()
        deadline = self.loop.time() + self.s.analysis_limit_s
        while True:
            now = self.loop.time()
            if now >= deadline:
                result = det.finish()
                log.info("AudioSocket call %s: analysis limit reached, %s", call, result.verdict)
                await self._hand_back(call, result)
                return
            if self.early:
                frames, self.early = self.early, []
            else:
                wait = min(deadline - now, max(self.last_activity + self.s.keepalive_s - now, 0.0))
                try:
                    data = await asyncio.wait_for(self.reader.read(READ_CHUNK), timeout=wait)
                except TimeoutError:
                    self._keepalive()
                    continue
                except ConnectionError as exc:
                    log.info(
                        "AudioSocket call %s: connection lost (%s) before a verdict", call, exc
                    )
                    self.server._ended(call, "connection lost")
                    return
                if not data:
                    log.info(
                        "AudioSocket call %s: Asterisk closed before a verdict (hangup, redirect)",
                        call,
                    )
                    self.server._ended(call, "closed by Asterisk")
                    return
                self.last_activity = self.loop.time()
                frames = self.parser.feed(data)
            pcm = bytearray()
            for frame in frames:
                if frame.kind == Kind.AUDIO:
                    pcm += frame.payload
                elif frame.kind == Kind.DTMF:
                    log.info(
                        "AudioSocket call %s: DTMF %r",
                        call,
                        frame.payload.decode("ascii", "replace"),
                    )
                elif frame.kind in (Kind.HANGUP, Kind.ERROR):
                    log.info("AudioSocket call %s: Asterisk sent %s; ending", call, frame.name)
                    self.server._ended(call, f"{frame.name} frame")
                    return
                else:
                    what = (
                        "audio at a rate other than 8 kHz"
                        if frame.kind in AUDIO_KINDS_OTHER_RATES
                        else "unknown kind"
                    )
                    await self._protocol_error(
                        call, f"frame {frame.name} ({what}, {len(frame.payload)} bytes)"
                    )
                    return
            if not pcm:
                continue
            if len(pcm) % 2:
                await self._protocol_error(call, f"audio with an odd byte count ({len(pcm)})")
                return
            reached = det.feed_pcm(bytes(pcm))
            if reached is not None:
                await self._hand_back(call, reached)
                return

    async def _first_frame(self) -> uuid.UUID | None:
        deadline = self.loop.time() + self.s.first_frame_timeout_s
        while True:
            left = deadline - self.loop.time()
            try:
                data = await asyncio.wait_for(self.reader.read(READ_CHUNK), timeout=max(left, 0.0))
            except TimeoutError:
                log.warning(
                    "AudioSocket connection from %s: no UUID frame within %.1f s; closing",
                    self.peer,
                    self.s.first_frame_timeout_s,
                )
                return None
            except ConnectionError:
                return None
            if not data:
                log.info("AudioSocket connection from %s closed before its UUID", self.peer)
                return None
            head = self._head = self._head + data[: 3 - len(self._head)]
            if len(head) == 3 and (head[0] != Kind.UUID or head[1:] != b"\x00\x10"):
                # Reject at the header: garbage may claim a huge length and never end.
                log.error(
                    "AudioSocket connection from %s: first frame header %s is not a UUID "
                    "frame (01 00 10), expected UUID; closing",
                    self.peer,
                    head.hex(" "),
                )
                return None
            frames = self.parser.feed(data)
            if not frames:
                continue
            try:
                call = parse_uuid(frames[0])
            except BadFrame as exc:
                log.error("AudioSocket connection from %s: %s; closing", self.peer, exc)
                return None
            self.last_activity = self.loop.time()
            self.early = frames[1:]  # frames that came in the same read as the UUID
            return call

    def _keepalive(self) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(SILENCE_FRAME)
        self.last_activity = self.loop.time()

    async def _protocol_error(self, call: uuid.UUID, what: str) -> None:
        log.error("AudioSocket call %s: protocol error: %s; closing (verdict not_sure)", call, what)
        self.server._report(call, DetectorResult(Verdict.NOT_SURE, 0.0, f"protocol error: {what}"))
        await self._close_our_side()

    async def _hand_back(self, call: uuid.UUID, result: DetectorResult) -> None:
        log.info(
            "AudioSocket call %s: %s at %.2f s (%s)",
            call,
            result.verdict,
            result.at_s,
            result.reason,
        )
        self.server._report(call, result)
        await self._close_our_side()

    async def _close_our_side(self) -> None:
        """FIN, then wait briefly for Asterisk's EOF (it comes within ~1 ms)."""
        with contextlib.suppress(Exception):
            if self.writer.can_write_eof():
                self.writer.write_eof()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.s.close_wait_s):
                    while await self.reader.read(READ_CHUNK):
                        pass
