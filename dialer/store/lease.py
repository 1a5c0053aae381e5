"""Campaign ownership by lease: one process dials a campaign at a time, and a dead
process's campaign moves to another after ``ttl`` seconds.

The lease is a row update (``Store.acquire_lease``: owner + expiry, taken only if free,
expired or already ours), timed on the real wall clock: it is about processes being
alive, not about the campaign's (possibly simulated) time. ``LeaseKeeper.ensure`` renews
it once a third of the ttl has passed; a process that finds its lease taken (it was
stalled longer than ttl) gets ``LeaseLost`` and must stop dialling: the new owner has
already reconciled its open attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from dialer.store.errors import StoreError
from dialer.store.store import Store


class LeaseLost(StoreError):  # noqa: N818 - reads as what happened
    """Another process holds this campaign's lease now."""


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        campaign: str,
        owner: str,
        *,
        ttl: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.campaign = campaign
        self.owner = owner
        self.ttl = ttl or store.settings.lease_ttl
        self._mono = monotonic
        self._renewed = -1e18
        self.held = False

    async def try_acquire(self) -> bool:
        ok = await self.store.acquire_lease(self.campaign, self.owner, ttl=self.ttl)
        if ok:
            self._renewed = self._mono()
        self.held = ok
        return ok

    async def acquire(self, *, wait: float, poll: float = 0.25) -> bool:
        """Take the lease, waiting up to ``wait`` real seconds for a holder's to expire."""
        deadline = self._mono() + wait
        while True:
            if await self.try_acquire():
                return True
            if self._mono() >= deadline:
                return False
            await asyncio.sleep(poll)

    async def ensure(self) -> None:
        """Renew if a third of the ttl has passed; LeaseLost if someone else has it."""
        if self._mono() - self._renewed < self.ttl / 3:
            return
        if not await self.try_acquire():
            raise LeaseLost(f"campaign {self.campaign!r}: lease taken by another process")

    async def release(self) -> None:
        if self.held:
            await self.store.release_lease(self.campaign, self.owner)
            self.held = False
