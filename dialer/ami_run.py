"""A campaign through the production path: the real runner, the AMI adapter, a PBX.

Used by the end-to-end tests, ``dialer simulate --backend ami-emulator`` and
``benchmarks/ami.py``: ``CampaignRunner`` + ``AmiTelephony`` over TCP to an Asterisk
(in practice the emulator, ``simulator.ami_emulator``). Agents log in through their
phones (the adapter's presence events); a small stand-in for the agent desktop ends
each wrap-up ``wrapup`` seconds after it starts. Times are wall seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.state import Agent, AgentState
from dialer.clock import Clock
from dialer.ids import AgentId, CallId
from dialer.leads import AttemptResult
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from pacing.base import Pacer
from simulator.portfolio import SyntheticPortfolio
from telephony.ami import AmiTelephony


@dataclass(slots=True)
class CampaignOutcome:
    """What happened, from the lead supply's side (one result per dial)."""

    dials: int
    results: list[AttemptResult]
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: list[CallId] = field(default_factory=list)
    unfinished: int = 0  # dials without a result when the run ended
    seconds: float = 0.0
    abandon_rate: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "dials": self.dials,
            "results": len(self.results),
            "unfinished": self.unfinished,
            "duplicates": len(self.duplicates),
            "outcomes": dict(sorted(self.outcomes.items())),
            "abandon_rate": round(self.abandon_rate, 4),
            "seconds": round(self.seconds, 2),
        }


async def run_campaign(
    tel: AmiTelephony,
    *,
    pacer: Pacer,
    leads: SyntheticPortfolio,
    settings: CampaignSettings,
    wrapup: float | Callable[[], float] = 0.05,
    timeout: float = 60.0,
    during: Callable[[CampaignRunner], None] | None = None,
) -> tuple[CampaignRunner, CampaignOutcome]:
    """Run until every lead is dialled and every call has ended (or ``timeout``).

    ``tel`` must be started. ``wrapup``: seconds, or a function drawing them.
    ``during`` is called every 20 ms with the runner (fault injection, progress).
    The adapter is closed at the end (that ends the runner's event loop cleanly).
    """
    loop = asyncio.get_running_loop()
    leads.results = []
    clock = Clock(loop, wall_at_start=datetime.now(UTC))
    runner = CampaignRunner(settings=settings, telephony=tel, leads=leads, pacer=pacer, clock=clock)

    def on_agent(agent: Agent) -> None:
        if agent.state is AgentState.WRAPUP:
            delay = wrapup() if callable(wrapup) else wrapup
            loop.call_later(delay, _finish, runner, agent.id)

    runner.add_agent_listener(on_agent)
    t0 = loop.time()
    task = asyncio.ensure_future(runner.run())
    try:
        while loop.time() - t0 < timeout and not task.done():
            if during is not None:
                during(runner)
            done = leads.claimed >= leads.count and runner.calls_in_flight == 0
            if done and runner.stats.dials >= leads.count:
                break
            await asyncio.sleep(0.02)
    finally:
        runner.stop()
        # The runner ends at its next event; the adapter's close ends the stream if none
        # comes (its orders still in flight are cancelled with the runner's tasks).
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 0.5)
        await tel.close()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 2.0)
    results = leads.results or []
    seen: Counter[CallId] = Counter(r.call for r in results)
    outcome = CampaignOutcome(
        dials=runner.stats.dials,
        results=results,
        outcomes=Counter(str(r.outcome) for r in results),
        duplicates=[c for c, n in seen.items() if n > 1],
        unfinished=runner.calls_in_flight,
        seconds=loop.time() - t0,
        abandon_rate=runner.stats.abandon_rate,
    )
    return runner, outcome


def _finish(runner: CampaignRunner, agent: AgentId) -> None:
    a = runner.agents.get(agent)
    if a is not None and a.state is AgentState.WRAPUP:
        runner.finish_wrapup(agent)
