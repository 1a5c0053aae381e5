"""A store-backed campaign on the simulator, built to be killed: the crash test's subject.

    python -m dialer.store.crash_harness --db FILE --campaign NAME --log FILE \
        --start 2026-03-03T10:00-06:00 --until 2026-03-03T12:00-06:00 [--agents 3] [--seed 1]

Runs the production ``CampaignRunner`` with a ``StoreLeadSupply`` on simulated telephony
in virtual time, from where the campaign's last recorded activity left off (or
``--start``) until ``--until`` (campaign wall-clock time), then exits 0. It holds the
campaign's lease (``LeaseKeeper``, real-time ttl ``--lease-ttl``), and on start reconciles
what a previous, killed run left open (``StoreLeadSupply.recover``).

Ground truth for the test, appended to ``--log`` and fsync'd before the step it records
goes on: ``O call lead number`` just before each originate reaches the (simulated)
network, ``F call outcome`` once an attempt's outcome is committed, ``R pending placed``
after recovery, ``S worker`` at start and ``E`` at a clean end.

Virtual time and the database: the virtual clock jumps to the next timer whenever the
loop is idle, and a query running in aiosqlite's thread leaves it idle. So every store
call is made holding the clock (``HeldVirtualTimeLoop``, ``real_time_while_held``): while
one is in flight the loop waits in real time for it instead of jumping, and virtual time
runs at real speed meanwhile (the database's latency is real time, one to one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from dialer.clock import Clock
from dialer.ids import AgentId, CallId, CampaignId
from dialer.leads import AttemptResult, DialTarget
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from dialer.store.lease import LeaseKeeper
from dialer.store.models import Attempt
from dialer.store.policy_config import policy_for
from dialer.store.settings import settings_for
from dialer.store.store import Store
from dialer.store.supply import StoreLeadSupply
from pacing.registry import make_pacer
from simulator.agents import SimAgents
from simulator.held_loop import HeldVirtualTimeLoop
from simulator.ledger import Ledger
from simulator.scenario import Scenario, parse_scenario
from simulator.telephony import SimTelephony
from telephony.events import CallEvent
from telephony.port import Originate


class Log:
    """Append-only, fsync'd: a line is on disk before the step it records goes on."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())
        os.fsync(self.fd)


class LoggedTelephony:
    """The simulated PBX, with every originate logged before it happens."""

    def __init__(self, inner: SimTelephony, log: Log) -> None:
        self.inner = inner
        self.log = log

    async def originate(self, request: Originate) -> None:
        self.log.write(f"O {request.call} {request.lead} {request.number}")
        await self.inner.originate(request)

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        await self.inner.bridge(call, agent)

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        await self.inner.play_and_hangup(call, prompt)

    async def hangup(self, call: CallId) -> None:
        await self.inner.hangup(call)

    def events(self) -> AsyncIterator[CallEvent]:
        return self.inner.events()


class HeldSupply:
    """The store supply with the virtual clock held during each call, and finishes logged."""

    def __init__(self, inner: StoreLeadSupply, loop: HeldVirtualTimeLoop, log: Log) -> None:
        self.inner = inner
        self.loop = loop
        self.log = log

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        with self.loop.hold():
            return await self.inner.claim(count, at=at, for_agent=for_agent)

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        with self.loop.hold():
            await self.inner.started(call, target, at=at)

    async def finished(self, result: AttemptResult) -> None:
        with self.loop.hold():
            await self.inner.finished(result)
        self.log.write(f"F {result.call} {result.outcome.value}")


def scenario(start: datetime, duration: float, agents: int, seed: int) -> Scenario:
    """Five-agent-floor traffic (shared/scenarios/small-team-5.toml), fewer agents."""
    return parse_scenario(
        {
            "name": "crash-harness",
            "seed": seed,
            "duration": duration,
            "start": start.isoformat(),
            "agents": {
                "count": agents,
                "talk": {"dist": "lognormal", "mean": 120, "sd": 60},
                "wrapup": {"dist": "lognormal", "mean": 20, "sd": 10},
            },
            "traffic": {
                "human": 0.25, "machine": 0.2, "busy": 0.1, "failed": 0.05,
                "ring": {"dist": "lognormal", "mean": 9, "sd": 5},
                "patience": {"dist": "lognormal", "mean": 7, "sd": 3},
            },
            "amd": {
                "human_as_machine": 0.02, "machine_as_human": 0.1,
                "decision": {"dist": "uniform", "low": 1.0, "high": 3.0},
            },
        },
        source="crash-harness",
    )  # fmt: skip


async def last_activity(store: Store, campaign_id: int) -> datetime | None:
    """The latest time the campaign's attempts recorded (created, placed or ended)."""
    out: list[datetime] = []
    async with store.session() as s:
        for col in (Attempt.created_at, Attempt.placed_at, Attempt.ended_at):
            latest = (
                await s.execute(
                    select(col)
                    .where(Attempt.campaign_id == campaign_id, col.is_not(None))
                    .order_by(col.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if latest is not None:
                out.append(latest)
    return max(out) if out else None


async def main_async(args: argparse.Namespace, loop: HeldVirtualTimeLoop) -> int:
    log = Log(args.log)
    worker = f"h{os.getpid()}-{secrets.token_hex(2)}"
    with loop.hold():
        store = await Store.open(settings_for(args.db, lease_ttl=args.lease_ttl))
    try:
        with loop.hold():
            info = await store.get_campaign(args.campaign)
            lease = None
            if not args.shared:
                lease = LeaseKeeper(store, args.campaign, worker, ttl=args.lease_ttl)
                if not await lease.acquire(wait=args.lease_ttl * 4):
                    print(f"campaign {args.campaign}: lease held elsewhere", file=sys.stderr)
                    return 3
            last = await last_activity(store, info.id)
        log.write(f"S {worker}")
        wall0 = args.start if last is None else max(args.start, last + timedelta(seconds=1))
        if args.shared:
            wall0 = args.start  # the other process's activity is not a restart point
        supply = StoreLeadSupply(
            store, info.id, policy=policy_for(info.settings), worker=worker, lease=lease
        )
        if lease is not None:
            with loop.hold():
                pending, placed = await supply.recover(at=wall0)
            log.write(f"R {pending} {placed}")
        remaining = (args.until - wall0).total_seconds()
        if remaining > 0:
            await run_campaign(args, loop, supply, log, wall0, remaining, worker)
        if lease is not None:
            with loop.hold():
                await lease.release()
        log.write("E")
        return 0
    finally:
        with loop.hold():
            await store.close()


async def run_campaign(  # noqa: PLR0917 - private glue
    args: argparse.Namespace,
    loop: HeldVirtualTimeLoop,
    supply: StoreLeadSupply,
    log: Log,
    wall0: datetime,
    remaining: float,
    worker: str,
) -> None:
    sc = scenario(wall0, remaining, args.agents, args.seed)
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    ledger = Ledger(duration=sc.duration)
    t0 = loop.time()
    sim = SimTelephony(sc, rng=np.random.default_rng(seeds[0]), ledger=ledger, loop=loop, t0=t0)
    runner = CampaignRunner(
        settings=CampaignSettings(campaign=CampaignId(args.campaign), lead_retry_interval=60.0),
        telephony=LoggedTelephony(sim, log),
        leads=HeldSupply(supply, loop, log),
        pacer=make_pacer(args.pacer),
        clock=Clock(loop, wall_at_start=wall0),
        call_id_prefix=f"{worker}-",
    )
    agents = SimAgents(
        sc,
        runner=runner,
        telephony=sim,
        rng=np.random.default_rng(seeds[1]),
        ledger=ledger,
        loop=loop,
        t0=t0,
    )
    task = asyncio.ensure_future(runner.run())
    agents.start()
    await asyncio.sleep(remaining)
    # End of the shift: no new dials; let the calls in flight end and be recorded.
    runner.stop_dialling()
    while runner.calls_in_flight:
        await asyncio.sleep(5.0)
    runner.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m dialer.store.crash_harness")
    ap.add_argument("--db", required=True)
    ap.add_argument("--campaign", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--start", required=True, type=datetime.fromisoformat)
    ap.add_argument("--until", required=True, type=datetime.fromisoformat)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pacer", default="predictive")
    ap.add_argument("--lease-ttl", type=float, default=2.0)
    ap.add_argument(
        "--shared",
        action="store_true",
        help="dial alongside other processes: no lease and no recovery (the atomic "
        "claims alone keep the processes apart)",
    )
    args = ap.parse_args(argv)
    for name in ("start", "until"):
        if getattr(args, name).tzinfo is None:
            ap.error(f"--{name}: needs a UTC offset")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop = HeldVirtualTimeLoop(real_time_while_held=True)
    try:
        return loop.run_until_complete(main_async(args, loop))
    finally:
        loop.close()


if __name__ == "__main__":
    raise SystemExit(main())
