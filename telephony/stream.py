"""An unbounded single-consumer event stream for telephony backends.

Backends ``put`` events from callbacks (timer handles, protocol ``data_received``);
the runner iterates. Iteration does not suspend while events are buffered, so a burst
of events costs one wake-up, not one per event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class EventStream(Generic[T]):
    def __init__(self) -> None:
        self._buf: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def put(self, item: T) -> None:
        if self._closed:
            return
        self._buf.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._buf)

    def __aiter__(self) -> EventStream[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buf:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        return self._buf.popleft()
