"""A backend that is down (``TelephonyUnavailable``) pauses dialling briefly.

Without the pause, every tick's dials would be refused at once and each refusal would
spend a lead on a failed attempt; with it, about one attempt per ``BACKEND_RETRY``.
"""

from __future__ import annotations

from dialer.errors import TelephonyUnavailable
from dialer.leads import AttemptOutcome
from dialer.runner import BACKEND_RETRY
from simulator.loop import VirtualTimeLoop
from telephony.port import Originate
from telephony.scripted import Script, ScriptedTelephony
from tests.test_runner import FloodPacer, Rig


class DownUntil(ScriptedTelephony):
    def __init__(self, loop: VirtualTimeLoop, until: float) -> None:
        super().__init__(default=Script(fate="busy", ring=1.0), loop=loop)
        self._loop_ = loop
        self.until = until
        self.refused = 0

    async def originate(self, request: Originate) -> None:
        if self._loop_.time() < self.until:
            self.refused += 1
            raise TelephonyUnavailable("no AMI server is connected: dialling paused")
        await super().originate(request)


def test_dialling_pauses_while_the_backend_is_down_and_resumes(loop: VirtualTimeLoop) -> None:
    tel = DownUntil(loop, until=10.0)
    rig = Rig(loop, pacer=FloodPacer(5), telephony=tel)
    rig.run(until=20.0)
    # One batch (<= 5 dials) per pause while down, instead of 5 every 0.25 s tick.
    assert tel.refused <= 5 * (10.0 / BACKEND_RETRY + 1)
    assert tel.refused < 5 * 10.0 / 0.25 / 2
    outcomes = [r.outcome for r in rig.leads.results or []]  # type: ignore[attr-defined]
    assert outcomes.count(AttemptOutcome.FAILED) == tel.refused
    assert outcomes.count(AttemptOutcome.BUSY) > 0  # dialling resumed once it was back
