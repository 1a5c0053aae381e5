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
import contextvars
import heapq
import selectors
from collections.abc import Callable
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
            self._owner.jump()
        polled: list[tuple[Any, int]] = super().select(0)
        return polled


class _OrderedTimer(asyncio.TimerHandle):
    """A timer that breaks ties by creation order.

    asyncio's ``TimerHandle`` compares by time only and ``heapq`` is not stable, so
    timers due at the very same instant (several dials placed in one tick all time out
    together) would run in an order that depends on the heap's shape, and so on every
    other timer: a progress display would change the simulation.
    """

    __slots__ = ("_key",)

    def __init__(  # noqa: PLR0917 - mirrors asyncio.TimerHandle
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[object, ...],
        loop: asyncio.AbstractEventLoop,
        seq: int,
        context: contextvars.Context | None,
    ) -> None:
        super().__init__(when, callback, args, loop, context=context)
        self._key = (when, seq)

    # Every timer of a VirtualTimeLoop is an _OrderedTimer (call_later goes through
    # call_at), so the heap only ever compares these keys.
    def __lt__(self, other: _OrderedTimer) -> bool:  # type: ignore[override]
        return self._key < other._key


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        self._vtime = float(start)
        self._seq = 0
        super().__init__(selector=_JumpSelector(self))

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: object,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        # BaseEventLoop.call_at, with a timer that orders ties by creation.
        self._check_closed()  # type: ignore[attr-defined]
        self._seq += 1
        timer = _OrderedTimer(when, callback, args, self, self._seq, context)
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def time(self) -> float:
        return self._vtime

    def jump(self) -> None:
        """Set the clock to the earliest timer's time, exactly.

        Adding the select timeout (``when - now``) instead would round differently
        depending on which other timers exist, so merely watching a run (a progress
        timer) would shift every later timestamp by an ulp and, through threshold
        comparisons, change the run. ``_scheduled`` is the base loop's timer heap; when
        ``select`` is called with a timeout its top is the earliest live timer.
        """
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if scheduled:
            self._vtime = max(self._vtime, scheduled[0].when())
