"""Simulated agents for the campaign host: they log in to the host, talk (the simulated
PBX decides for how long), do their wrap-up, and set a disposition through the very
function the agent API calls (``dialer.dispositions.record_disposition``).

Dispositions are drawn from a seeded generator with ``DispositionProfile``'s shares, so
a simulated campaign produces contacts, right-party contacts, promises to pay,
callbacks and the odd do-not-call, the same ones for the same seed. A machine that
detection passed as a person gets no disposition (and no wrap-up).

Agents come from the agents table and follow the scenario's agent schedule scaled to
them: a step to ``count`` of the scenario's ``agents.count`` keeps the same share of
the floor's agents logged in (rounded). As in ``dialer simulate``, idle agents leave
first (then busy ones, by name, after their current call and its disposition), and
agents told to leave come back first when the count rises again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import numpy as np

from agents.state import Agent, AgentState
from dialer.campaign_host import CampaignHost
from dialer.clock import Clock
from dialer.disposition_codes import DispositionCode
from dialer.dispositions import DispositionRequest, call_context, record_disposition
from dialer.errors import DialerError
from dialer.ids import AgentId, CallId
from dialer.store import Store, StoreError
from simulator.distributions import Distribution
from simulator.held_loop import clock_hold

log = logging.getLogger("dialer.sim_floor")


@dataclass(frozen=True, slots=True, kw_only=True)
class DispositionProfile:
    """Shares (0..1) of the outcomes of a conversation with a person.

    ``right_party``: the person is the debtor. Of right-party contacts: ``promise``,
    ``refused``, ``callback`` (the rest: right-party contact with no outcome). Of the
    others: ``wrong_number``, ``do_not_call`` (the rest: third-party contact). Promised
    amounts are a uniform share of the debt in ``promise_share``, due 1-14 days later.
    """

    right_party: float = 0.6
    promise: float = 0.35
    refused: float = 0.25
    callback: float = 0.15
    wrong_number: float = 0.3
    do_not_call: float = 0.05
    promise_share: tuple[float, float] = (0.2, 1.0)

    def __post_init__(self) -> None:
        for name in ("right_party", "promise", "refused", "callback", "wrong_number"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be a share in 0..1")
        if self.promise + self.refused + self.callback > 1:
            raise ValueError("promise + refused + callback: must not exceed 1")
        if self.wrong_number + self.do_not_call > 1:
            raise ValueError("wrong_number + do_not_call: must not exceed 1")

    def draw(self, rng: np.random.Generator) -> DispositionCode:
        u = rng.random()
        if rng.random() < self.right_party:
            for code, share in (
                (DispositionCode.PROMISE_TO_PAY, self.promise),
                (DispositionCode.REFUSED, self.refused),
                (DispositionCode.CALLBACK, self.callback),
            ):
                if u < share:
                    return code
                u -= share
            return DispositionCode.RIGHT_PARTY_CONTACT
        for code, share in (
            (DispositionCode.WRONG_NUMBER, self.wrong_number),
            (DispositionCode.DO_NOT_CALL, self.do_not_call),
        ):
            if u < share:
                return code
            u -= share
        return DispositionCode.CONTACT


class SimFloor:
    def __init__(
        self,
        host: CampaignHost,
        *,
        store: Store,
        clock: Clock,
        agents: Sequence[str],
        wrapup: Distribution,
        rng: np.random.Generator,
        machine_calls: set[CallId],
        profile: DispositionProfile | None = None,
        schedule: Sequence[tuple[float, int]] = (),
        planned: int = 0,
    ) -> None:
        self._host = host
        self._store = store
        self._clock = clock
        self._agents = [AgentId(a) for a in agents]
        self._wrapup = wrapup
        self._rng = rng
        self._machine_calls = machine_calls
        self.profile = profile or DispositionProfile()
        self._tasks: set[asyncio.Task[None]] = set()
        self.recorded = 0
        self.failed = 0
        # Dispositions recorded, by campaign and code (the live view's outcome counts).
        self.counts: dict[str, Counter[str]] = {}
        self._schedule = tuple(schedule)  # (engine seconds from the start, agents)
        self._planned = planned  # the scenario's agents.count
        self._active: set[AgentId] = set()  # logged in and staying
        self._leaving: set[AgentId] = set()  # logged in, to leave after the current call
        host.add_agent_listener(self._on_agent)

    @property
    def logged_in(self) -> int:
        return len(self._active) + len(self._leaving)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._set_target(len(self._agents))
        t0 = loop.time()
        for at, count in self._schedule:
            loop.call_at(t0 + at, self._set_target, self._scaled(count))

    def _scaled(self, count: int) -> int:
        if self._planned <= 0:
            return len(self._agents)
        return min(len(self._agents), round(len(self._agents) * count / self._planned))

    def _idle(self, agent: AgentId) -> bool:
        """Not on a call nor in its wrap-up (waiting for a campaign counts as idle)."""
        st = self._host.agent_state(agent)
        return st is None or st.state in (AgentState.READY, AgentState.PAUSED)

    def _set_target(self, count: int) -> None:
        # Agents told to leave come back first: they never actually left.
        while len(self._active) < count and self._leaving:
            agent = min(self._leaving)
            self._leaving.discard(agent)
            self._active.add(agent)
        for agent in self._agents:
            if len(self._active) >= count:
                break
            if agent not in self._active:
                self._active.add(agent)
                self._host.login(agent)
        if len(self._active) > count:
            idle = sorted(a for a in self._active if self._idle(a))
            busy = sorted(a for a in self._active if not self._idle(a))
            for agent in (idle + busy)[: len(self._active) - count]:
                self._active.discard(agent)
                if self._idle(agent):
                    self._host.logout(agent)
                else:
                    self._leaving.add(agent)

    def _leave_now(self, agent: AgentId) -> None:
        if agent in self._leaving and self._idle(agent):
            self._leaving.discard(agent)
            self._host.logout(agent)

    def _on_agent(self, campaign: str, agent: Agent) -> None:
        if agent.state is AgentState.READY and agent.id in self._leaving:
            # A reserved call that failed, or a dropped bridge: leave now.
            asyncio.get_running_loop().call_soon(self._leave_now, agent.id)
            return
        if agent.state is not AgentState.WRAPUP or agent.call is None:
            return
        loop = asyncio.get_running_loop()
        machine = agent.call in self._machine_calls
        wrap = 0.0 if machine else self._wrapup.sample(self._rng)
        code = None if machine else self.profile.draw(self._rng)
        loop.call_at(loop.time() + wrap, self._wrapup_done, campaign, agent.id, agent.call, code)

    def _wrapup_done(
        self, campaign: str, agent: AgentId, call: CallId, code: DispositionCode | None
    ) -> None:
        task = asyncio.ensure_future(self._dispose(campaign, agent, call, code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispose(
        self, campaign: str, agent: AgentId, call: CallId, code: DispositionCode | None
    ) -> None:
        with clock_hold(asyncio.get_running_loop()):
            if code is not None:
                try:
                    await self._record(campaign, agent, call, code)
                    self.recorded += 1
                    self.counts.setdefault(campaign, Counter())[code] += 1
                except (DialerError, StoreError, ValueError) as exc:
                    self.failed += 1
                    log.warning("disposition of %s by %s not recorded: %s", call, agent, exc)
        # Its campaign may have ended meanwhile (drain timeout): nothing to finish then.
        with contextlib.suppress(DialerError):
            if agent in self._leaving:
                self._leaving.discard(agent)
                self._host.logout(agent)
            else:
                self._host.finish_wrapup(agent)

    async def _record(
        self, campaign: str, agent: AgentId, call: CallId, code: DispositionCode
    ) -> None:
        at = self._clock.wall()
        req = DispositionRequest(call=call, agent=agent, code=code)
        if code is DispositionCode.PROMISE_TO_PAY:
            ctx = await call_context(self._store, call)
            lead = await self._store.get_lead(campaign, ctx.lead_id)
            low, high = self.profile.promise_share
            share = Decimal(str(round(float(self._rng.uniform(low, high)), 2)))
            amount = max(Decimal("1.00"), (lead.debt_amount * share).quantize(Decimal("0.01")))
            due = (at + timedelta(days=int(self._rng.integers(1, 15)))).date()
            req = DispositionRequest(
                call=call, agent=agent, code=code, promise_amount=amount, promise_due=due
            )
        elif code is DispositionCode.CALLBACK:
            later = at + timedelta(hours=float(self._rng.uniform(1, 48)))
            req = DispositionRequest(call=call, agent=agent, code=code, callback_at=later)
        await record_disposition(self._store, req, at=at)
