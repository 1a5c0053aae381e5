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
import time
from collections.abc import Iterator
from typing import Any

from simulator.loop import JumpSelector, VirtualTimeLoop

# Longest real wait (seconds) for a held IO completion before re-checking the loop; and
# the step of the clock when it follows real time while held.
_HELD_WAIT = 0.5
_FOLLOW_WAIT = 0.05


class _HeldSelector(JumpSelector):
    def __init__(self, owner: HeldVirtualTimeLoop) -> None:
        super().__init__(owner)
        self._held = owner

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        owner = self._held
        if owner.holds > 0 and timeout != 0:
            # The clock is held: wait in real time for the IO that holds it.
            if not owner.real_time_while_held:
                held: list[tuple[Any, int]] = selectors.DefaultSelector.select(self, _HELD_WAIT)
                return held
            # Or let it follow the real clock, so that a sleep while holding (a lease
            # wait) ends in real time.
            wait = _FOLLOW_WAIT if timeout is None else min(timeout, _FOLLOW_WAIT)
            t0 = time.monotonic()
            ready: list[tuple[Any, int]] = selectors.DefaultSelector.select(self, wait)
            owner.advance(time.monotonic() - t0)
            return ready
        return super().select(timeout)


class HeldVirtualTimeLoop(VirtualTimeLoop):
    """``real_time_while_held``: while held, the virtual clock runs at real speed instead
    of standing still (the crash harness: the database's latency, and lease waits, take
    real time)."""

    selector_type = _HeldSelector

    def __init__(self, start: float = 0.0, *, real_time_while_held: bool = False) -> None:
        self.holds = 0
        self.real_time_while_held = real_time_while_held
        super().__init__(start)

    def advance(self, seconds: float) -> None:
        """Move the virtual clock on by ``seconds``."""
        self._vtime += seconds

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
