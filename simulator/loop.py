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
from collections import deque
from collections.abc import Callable
from typing import Any

_MAX_SELECT_TIMEOUT = 24 * 3600.0  # asyncio.base_events.MAXIMUM_SELECT_TIMEOUT, seconds


class JumpSelector(selectors.DefaultSelector):
    """Polls real IO without blocking; when the loop would wait, jumps the virtual clock
    to the next timer instead."""

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


# The base loop's cleanup thresholds (asyncio.base_events): compact the timer heap when
# more than half of over 100 timers are cancelled.
_MIN_SCHEDULED = 100
_MIN_CANCELLED_FRACTION = 0.5

_Entry = tuple[float, int, asyncio.TimerHandle]


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """The timer heap holds ``(when, seq, handle)`` entries, not bare handles.

    asyncio's ``TimerHandle`` compares by time only and ``heapq`` is not stable, so
    timers due at the very same instant (several dials placed in one tick all time out
    together) would run in an order that depends on the heap's shape, and so on every
    other timer: a progress display would change the simulation. The creation number
    breaks ties; as a tuple, the comparison stays in C (a Python ``__lt__`` on the
    handles cost ~7 million calls per simulated shift of a 250-agent floor).
    ``_run_once`` is the base loop's, adapted to these entries.
    """

    # The selector that drives the clock (a subclass may hold it: simulator.held_loop).
    selector_type: type[JumpSelector] = JumpSelector

    def __init__(self, start: float = 0.0) -> None:
        self._vtime = float(start)
        self._seq = 0
        super().__init__(selector=self.selector_type(self))

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: object,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        # BaseEventLoop.call_at, with a heap entry that orders ties by creation.
        self._check_closed()  # type: ignore[attr-defined]
        self._seq += 1
        timer = asyncio.TimerHandle(when, callback, args, self, context=context)
        heapq.heappush(self._scheduled, (when, self._seq, timer))
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def _run_once(self) -> None:
        """One iteration of ``BaseEventLoop._run_once`` on ``(when, seq, handle)`` entries."""
        heap: list[_Entry] = self._scheduled  # type: ignore[has-type]
        count = len(heap)
        if count > _MIN_SCHEDULED and (
            self._timer_cancelled_count / count > _MIN_CANCELLED_FRACTION  # type: ignore[has-type]
        ):
            kept: list[_Entry] = []
            for entry in heap:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False  # type: ignore[attr-defined]
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._scheduled = heap = kept
            self._timer_cancelled_count = 0
        else:
            while heap and heap[0][2]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(heap)[2]._scheduled = False  # type: ignore[attr-defined]
        ready: deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        timeout: float | None = None
        if ready or self._stopping:  # type: ignore[attr-defined]
            timeout = 0
        elif heap:
            timeout = min(max(0.0, heap[0][0] - self._vtime), _MAX_SELECT_TIMEOUT)
        self._process_events(self._selector.select(timeout))  # type: ignore[attr-defined]
        end_time = self._vtime + self._clock_resolution  # type: ignore[attr-defined]
        while heap and heap[0][0] < end_time:
            handle = heapq.heappop(heap)[2]
            handle._scheduled = False  # type: ignore[attr-defined]
            ready.append(handle)
        # Run what is ready now, not what these callbacks schedule (the next iteration).
        for _ in range(len(ready)):
            todo = ready.popleft()
            if not todo._cancelled:
                todo._run()

    def time(self) -> float:
        return self._vtime

    def jump(self) -> None:
        """Set the clock to the earliest timer's time, exactly.

        Adding the select timeout (``when - now``) instead would round differently
        depending on which other timers exist, so merely watching a run (a progress
        timer) would shift every later timestamp by an ulp and, through threshold
        comparisons, change the run. ``_scheduled`` is the base loop's timer heap (here
        of ``(when, seq, handle)``); when ``select`` is called with a timeout its top is
        the earliest live timer.
        """
        scheduled = self._scheduled
        if scheduled:
            self._vtime = max(self._vtime, scheduled[0][0])
