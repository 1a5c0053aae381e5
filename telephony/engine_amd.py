"""Our detector in production: the AudioSocket server wired to the AMI adapter.

``amd = "engine"`` in a campaign means: the Originate goes to ``dialer-outbound,engine``
(``AmiSettings(outbound_exten="engine")``), whose ``TryExec(AudioSocket(...))`` streams the
answered call's audio to our ``AudioSocketServer``; each verdict goes to the adapter's
``engine_verdict(DIALER_AS_UUID, verdict)``, which turns it into the call's
``CallAnswered`` so the runner routes it as after AMD() (agent conference, abandon
message, machine hang-up or message after the beep). The server then ends the stream
(FIN) and the dialplan waits in ``dialer-outbound,hold`` for that routing.

    async with EngineAmd(telephony, AudioSocketSettings(port=9092)) as amd:
        ...  # run the campaign; amd.port is the bound port (port=0: any free one)
        amd.results  # as_uuid -> DetectorResult, every verdict given so far

If Asterisk cannot reach the server the dialplan falls back to AMD() by itself; the
adapter logs that once (``AudioSocketDone`` with ``TryStatus`` other than SUCCESS).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from telephony.amd.detector import AmdDetector, DetectorResult
from telephony.audiosocket_server import AudioSocketServer, AudioSocketSettings, StreamDetector
from telephony.events import AmdVerdict

log = logging.getLogger("telephony.engine_amd")


class VerdictSink(Protocol):
    """What receives the verdicts: ``telephony.ami.AmiTelephony`` has this method."""

    def engine_verdict(self, as_uuid: str, verdict: AmdVerdict) -> None: ...


class EngineAmd:
    """An ``AudioSocketServer`` whose verdicts go to ``sink.engine_verdict``."""

    def __init__(
        self,
        sink: VerdictSink,
        settings: AudioSocketSettings | None = None,
        *,
        detector_factory: Callable[[], StreamDetector] = AmdDetector,
    ) -> None:
        self._sink = sink
        self.results: dict[str, DetectorResult] = {}  # as_uuid text -> verdict
        self.ended: dict[str, str] = {}  # as_uuid text -> why a stream ended undecided
        self.server = AudioSocketServer(
            settings,
            on_verdict=self._on_verdict,
            on_ended=self._on_ended,
            detector_factory=detector_factory,
        )

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        """``host:port`` for the dialplan's ``DIALER_AS_SERVER``."""
        return f"{self.server.settings.host}:{self.port}"

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def __aenter__(self) -> EngineAmd:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _on_verdict(self, call: uuid.UUID, result: DetectorResult) -> None:
        key = str(call)
        self.results[key] = result
        self._sink.engine_verdict(key, result.amd_verdict)

    def _on_ended(self, call: uuid.UUID, why: str) -> None:
        # A hangup or a Redirect before the verdict: AMI tells the engine which.
        self.ended[str(call)] = why
