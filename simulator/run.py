"""Run one scenario: the production campaign runner on simulated telephony and a
virtual clock. Same seed, same result, bit for bit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dialer.clock import Clock
from dialer.ids import CampaignId
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from pacing.base import Pacer
from pacing.registry import make_pacer
from simulator.agents import SimAgents
from simulator.ledger import Ledger
from simulator.loop import VirtualTimeLoop
from simulator.portfolio import SyntheticPortfolio
from simulator.scenario import Scenario
from simulator.telephony import SimTelephony

Scalar = bool | int | float | str  # a config value (dialer.config.Scalar)

MODES = ("predictive", "progressive", "ratio")


@dataclass(frozen=True, slots=True)
class Progress:
    """What a live view shows, sampled every ``progress_every`` simulated seconds."""

    sim_seconds: float
    duration: float
    runner: CampaignRunner
    ledger: Ledger


ProgressFn = Callable[[Progress], None]


def resolve_pacer(mode: str, pacer: str | None) -> str:
    """``--pacer`` wins; otherwise the mode names its own pacer."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return pacer or mode


def run_scenario(
    scenario: Scenario,
    *,
    mode: str = "predictive",
    pacer: str | None = None,
    on_progress: ProgressFn | None = None,
    progress_every: float = 60.0,
    speed: float = 0.0,
    pacer_factory: Callable[[Scenario], Pacer] | None = None,
    settings: Mapping[str, Scalar] | None = None,
) -> dict[str, object]:
    """Run ``scenario`` to the end of its shift and return the SCENARIOS.md result.

    ``speed`` 0 runs as fast as possible; ``speed`` N runs N times faster than real time.
    ``settings``: further ``CampaignSettings`` values the scenario format has no key for
    (prompts, tick intervals: ``simulator.configured.engine_settings``).
    """
    pacer_name = resolve_pacer(mode, pacer)
    if pacer_name in MODES:
        mode = pacer_name  # e.g. --pacer progressive reserves calls: it is that mode
    loop = VirtualTimeLoop()
    if speed > 0:
        keep_pace(loop, speed)
    wall0 = time.perf_counter()
    try:
        ledger = loop.run_until_complete(
            _run(
                scenario,
                pacer_name,
                loop,
                on_progress,
                progress_every,
                pacer_factory,
                dict(settings or {}),
            )
        )
    finally:
        loop.close()
    result: dict[str, object] = {
        "scenario": scenario.name,
        "mode": mode,
        "pacer": pacer_name,
        "seed": scenario.seed,
        "sim_seconds": scenario.duration,
        "wall_seconds": round(time.perf_counter() - wall0, 3),
    }
    result.update(ledger.result())
    return result


def keep_pace(loop: asyncio.AbstractEventLoop, speed: float, *, step: float = 0.05) -> None:
    """Hold virtual time to ``speed`` × real time, for a person watching.

    The clock stays virtual, so the engine's own compute time never counts as
    simulated time: a paced run gives exactly the result of an unpaced one.
    """
    real0 = time.monotonic()
    v0 = loop.time()

    def pace() -> None:
        ahead = (loop.time() - v0) / speed - (time.monotonic() - real0)
        if ahead > 0:
            time.sleep(ahead)
        loop.call_at(loop.time() + step * speed, pace)

    loop.call_soon(pace)


async def _run(  # noqa: PLR0917 - private glue, called once
    sc: Scenario,
    pacer_name: str,
    loop: asyncio.AbstractEventLoop,
    on_progress: ProgressFn | None,
    progress_every: float,
    pacer_factory: Callable[[Scenario], Pacer] | None,
    extra: dict[str, Scalar],
) -> Ledger:
    t0 = loop.time()
    # One seeded generator per concern, so that changing the pacer does not reshuffle
    # the agents' talk times relative to the traffic (common random numbers).
    seeds = np.random.SeedSequence(sc.seed).spawn(2)
    traffic_rng = np.random.default_rng(seeds[0])
    agent_rng = np.random.default_rng(seeds[1])
    cp = sc.campaign
    settings = CampaignSettings(
        campaign=CampaignId(sc.name),
        no_answer_timeout=cp.no_answer_timeout,
        connect_deadline=cp.connect_deadline,
        abandon_target=cp.abandon_target,
        max_lines=cp.max_lines,
        **extra,  # type: ignore[arg-type]  # types checked when the config was loaded
    )
    pacer = (
        pacer_factory(sc)
        if pacer_factory is not None
        else make_pacer(
            pacer_name, abandon_target=cp.abandon_target, connect_deadline=cp.connect_deadline
        )
    )
    ledger = Ledger(duration=sc.duration)
    telephony = SimTelephony(sc, rng=traffic_rng, ledger=ledger, loop=loop, t0=t0)
    leads = SyntheticPortfolio(sc.leads.count)
    runner = CampaignRunner(
        settings=settings,
        telephony=telephony,
        leads=leads,
        pacer=pacer,
        clock=Clock(loop, wall_at_start=sc.start),
    )
    agents = SimAgents(
        sc, runner=runner, telephony=telephony, rng=agent_rng, ledger=ledger, loop=loop, t0=t0
    )
    task = asyncio.ensure_future(runner.run())
    agents.start()
    if on_progress is not None:

        def tick() -> None:
            t = loop.time() - t0
            on_progress(Progress(min(t, sc.duration), sc.duration, runner, ledger))
            if t < sc.duration:
                loop.call_at(min(loop.time() + progress_every, t0 + sc.duration), tick)

        loop.call_soon(tick)
    await asyncio.sleep(sc.duration)
    runner.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    ledger.close()
    return ledger
