"""A virtual-time loop whose clock can be held while the engine waits on real IO.

``VirtualTimeLoop`` jumps to the next timer whenever nothing is ready. That is right for
a pure simulation, and wrong as soon as the engine awaits a database: aiosqlite runs
its queries on a thread, the loop sees nothing ready, and virtual time would race
through the simulated world (calls answering, deadlines expiring) while one
``INSERT`` is in progress, so the measured abandon rate would depend on disk speed.

``HeldVirtualTimeLoop.hold()`` is a context manager: while at least one hold is open,
the clock stands still and the loop blocks on real IO (the thread's wake-up) instead.
The simulated database is thus infinitely fast, and a run's outcome does not depend on
how busy the machine is. Outside holds it is exactly ``VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
from collections.abc import Iterator
from typing import Any

from simulator.loop import VirtualTimeLoop

# Longest real wait (seconds) for a held IO completion before re-checking the loop.
_HELD_WAIT = 0.5


class _HeldSelector(selectors.DefaultSelector):
    def __init__(self, owner: HeldVirtualTimeLoop) -> None:
        super().__init__()
        self._owner = owner

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        owner = self._owner
        if owner.holds > 0:
            # Virtual time stands still: wait in real time for the IO that holds it.
            wait = _HELD_WAIT if timeout is None or timeout > 0 else 0.0
            held: list[tuple[Any, int]] = super().select(wait)
            return held
        if timeout is None:
            result: list[tuple[Any, int]] = super().select(0)
            if not result:
                raise RuntimeError("virtual-time loop is idle with no timer: deadlock")
            return result
        if timeout > 0:
            owner.jump()
        polled: list[tuple[Any, int]] = super().select(0)
        return polled


class HeldVirtualTimeLoop(VirtualTimeLoop):
    def __init__(self, start: float = 0.0) -> None:
        self.holds = 0
        self._vtime = float(start)
        self._seq = 0
        # Bypass VirtualTimeLoop.__init__ only to install the holding selector.
        asyncio.SelectorEventLoop.__init__(self, selector=_HeldSelector(self))

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Stop the virtual clock for the duration of the block (re-entrant)."""
        self.holds += 1
        try:
            yield
        finally:
            self.holds -= 1


def clock_hold(loop: asyncio.AbstractEventLoop) -> contextlib.AbstractContextManager[None]:
    """``loop.hold()`` on a holding loop; a no-op on any other loop (production)."""
    if isinstance(loop, HeldVirtualTimeLoop):
        return loop.hold()
    return contextlib.nullcontext()
