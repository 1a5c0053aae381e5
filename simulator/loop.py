"""Event loops whose clock is virtual.

``VirtualTimeLoop`` is an ordinary asyncio selector loop whose ``time()`` is virtual:
whenever nothing is ready to run, the clock jumps straight to the next timer (simpy's
kernel, inside asyncio). So the very same coroutines that run the production engine run
an 8-hour shift in seconds, and the order of callbacks is deterministic.

A run that a person watches stays on virtual time and is merely slowed down to a
chosen speed (``simulator.run``), so the result never depends on how busy the machine is.

Sockets still work (the selector is polled without blocking), but their peers live in
real time: virtual-time simulations should not depend on them.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _JumpSelector(selectors.DefaultSelector):
    def __init__(self, owner: VirtualTimeLoop) -> None:
        super().__init__()
        self._owner = owner

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        if timeout is None:
            # No timer and nothing ready: in virtual time nothing can ever happen again.
            # Poll real IO once, then let the caller's own timers (if any) decide.
            result: list[tuple[Any, int]] = super().select(0)
            if not result:
                raise RuntimeError("virtual-time loop is idle with no timer: deadlock")
            return result
        if timeout > 0:
            self._owner.advance(timeout)
        polled: list[tuple[Any, int]] = super().select(0)
        return polled


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        self._vtime = float(start)
        super().__init__(selector=_JumpSelector(self))

    def time(self) -> float:
        return self._vtime

    def advance(self, seconds: float) -> None:
        self._vtime += seconds
