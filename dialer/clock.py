"""The engine's one clock.

Monotonic seconds come from the event loop (``loop.time()``): in production the real
monotonic clock, in the simulator virtual time. Wall-clock questions (is it 21:05 in
Monterrey?) are answered from that same clock, anchored once at start, so that the
simulator's virtual hours are also virtual wall-clock hours. This is the one place where
monotonic time becomes wall-clock time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class Clock:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, wall_at_start: datetime) -> None:
        if wall_at_start.tzinfo is None:
            raise ValueError("wall_at_start must be timezone-aware")
        self._loop = loop
        self._mono0 = loop.time()
        self._wall0 = wall_at_start
        # The last answer: a burst of dials and events shares one instant, and the
        # simulator asks ~a million times a shift (datetime arithmetic is not free).
        self._last: tuple[float, datetime] = (self._mono0, wall_at_start)

    def now(self) -> float:
        """Monotonic engine seconds."""
        return self._loop.time()

    def elapsed(self) -> float:
        """Seconds since the clock was anchored."""
        return self._loop.time() - self._mono0

    def wall(self, at: float | None = None) -> datetime:
        """The tz-aware wall-clock time at monotonic ``at`` (default: now)."""
        t = self._loop.time() if at is None else at
        last_t, last_wall = self._last
        if t == last_t:
            return last_wall
        wall = self._wall0 + timedelta(seconds=t - self._mono0)
        self._last = (t, wall)
        return wall
