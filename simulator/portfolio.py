"""A synthetic portfolio of debtors: the simulator's lead supply.

Each lead has one phone number; leads are handed out in order and never retried (the
simulator's model: each dial consumes one lead). A fraction of the leads may be owned
by agents: an owned lead is only handed out for its owner (progressive), never to an
unreserved call. ``dialer.leads.LeadSupply`` is the interface.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import AttemptResult, DialTarget


class SyntheticPortfolio:
    def __init__(
        self,
        count: int,
        *,
        owners: Sequence[AgentId] = (),
        owned_every: int = 0,
        country_prefix: str = "52",
    ) -> None:
        """``owned_every=k`` makes every k-th lead owned, round-robin over ``owners``."""
        self.count = count
        self._owners = tuple(owners)
        self._owned_every = owned_every if owners else 0
        self._prefix = country_prefix
        self._cursor = 0
        self._owned: dict[AgentId, deque[DialTarget]] = {a: deque() for a in self._owners}
        self.claimed = 0
        self.results: list[AttemptResult] | None = None  # set to [] to keep outcomes

    def _make(self, i: int) -> DialTarget:
        owner = None
        if self._owned_every and i % self._owned_every == self._owned_every - 1:
            owner = self._owners[(i // self._owned_every) % len(self._owners)]
        return DialTarget(LeadId(f"L{i}"), f"{self._prefix}55{i:08d}", owner)

    def _next_unowned(self) -> DialTarget | None:
        while self._cursor < self.count:
            target = self._make(self._cursor)
            self._cursor += 1
            if target.owner is None:
                return target
            self._owned[target.owner].append(target)
        return None

    def _next_for(self, agent: AgentId) -> DialTarget | None:
        mine = self._owned.get(agent)
        if mine:
            return mine.popleft()
        # Scan ahead: the agent's own leads come before unowned ones.
        while self._cursor < self.count:
            target = self._make(self._cursor)
            self._cursor += 1
            if target.owner is None or target.owner == agent:
                return target
            self._owned[target.owner].append(target)
        return None

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        out: list[DialTarget] = []
        for _ in range(count):
            target = self._next_unowned() if for_agent is None else self._next_for(for_agent)
            if target is None:
                break
            out.append(target)
        self.claimed += len(out)
        return out

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        return None

    async def finished(self, result: AttemptResult) -> None:
        if self.results is not None:
            self.results.append(result)
