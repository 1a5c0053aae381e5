"""Wiring: campaigns from the database + a telephony backend -> a running ``CampaignHost``.

``start_host`` is what ``dialer campaign start`` runs in the foreground: it checks every
named campaign before anything runs (unknown campaign, invalid settings, a campaign
another live host holds: nothing starts), marks them ``running``, takes their leases,
recovers attempts a crashed run left open, and runs the host until every campaign is
stopped, the bounded simulation ends, or SIGINT/SIGTERM asks for a graceful stop (a
second signal stops at once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dialer.backends import Backend, SimBackend
from dialer.campaign_config import plan_campaign
from dialer.campaign_host import CampaignHost, HostedCampaign, HostSettings
from dialer.clock import Clock
from dialer.errors import ConfigError, DialerError, TelephonyError
from dialer.ids import AgentId, CallId
from dialer.leads import AttemptResult, DialTarget, LeadSupply
from dialer.ops_db import StoreControl, ensure_tables
from dialer.sim_floor import SimFloor
from dialer.store import CampaignStatus, NotFound, Store, StoreSettings
from dialer.store.lease import LeaseKeeper, LeaseLost
from dialer.store.policy_config import policy_for
from dialer.store.supply import StoreLeadSupply
from dialer.telephony_mux import TelephonyMux
from simulator.held_loop import clock_hold
from telephony.presence import AgentJoined, AgentPresence

log = logging.getLogger("dialer.host_run")

# A live view: called with the host and the dispositions recorded so far, by campaign
# and code (empty without simulated agents).
FrameFn = Callable[[CampaignHost, Mapping[str, Counter[str]]], None]
HostFn = Callable[[CampaignHost, Store], None]
# Network services started beside the host (dialer.services): returns their closer.
ServicesFn = Callable[[CampaignHost, Store], Awaitable[Callable[[], Awaitable[None]]]]


class HeldSupply:
    """A lead supply whose database calls hold the simulator's clock (no-op in
    production): the simulated world does not move while a claim is being written.
    A claim that finds the campaign's lease taken by another process returns nothing
    and reports it (``on_lost(campaign)``): the host then drains the campaign."""

    def __init__(
        self,
        inner: LeadSupply,
        loop: asyncio.AbstractEventLoop,
        *,
        campaign: str,
        on_lost: Callable[[str], None],
    ) -> None:
        self._inner = inner
        self._loop = loop
        self._campaign = campaign
        self._on_lost = on_lost

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        with clock_hold(self._loop):
            try:
                return await self._inner.claim(count, at=at, for_agent=for_agent)
            except LeaseLost:
                log.error("campaign %s: lease taken by another process", self._campaign)
                self._on_lost(self._campaign)
                return []

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        with clock_hold(self._loop):
            await self._inner.started(call, target, at=at)

    async def finished(self, result: AttemptResult) -> None:
        with clock_hold(self._loop):
            await self._inner.finished(result)


@dataclass(slots=True)
class HostOutcome:
    """What a host run did: ``status`` is the exit status for the CLI."""

    status: int = 0
    error: str | None = None
    campaigns: list[str] = field(default_factory=list)
    dispositions: dict[str, dict[str, int]] = field(default_factory=dict)  # campaign -> code -> n
    live: dict[str, dict[str, object]] = field(default_factory=dict)


def worker_name() -> str:
    """Unique to this process run: attempts and leases are owned by it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def start_host(
    db: StoreSettings,
    names: Sequence[str],
    backend: Backend,
    *,
    until: float | None = None,
    host_settings: HostSettings | None = None,
    on_frame: FrameFn | None = None,
    frame_every: float = 0.5,
    on_host: HostFn | None = None,
    services: ServicesFn | None = None,
) -> HostOutcome:
    """Run the host on ``backend``'s loop until it ends; see the module text.
    ``until``: engine seconds (a bounded simulation). ``on_frame`` is called about
    every ``frame_every`` real seconds (a live view). ``on_host(host, store)`` is called
    once the host is built and before any campaign starts, on the host's loop: the
    place for the agent API and the metrics to register their hooks (the store is open
    until the host has ended). ``services(host, store)`` starts network services (the
    agent API, metrics: ``dialer.services``) at that same moment and returns their
    closer, awaited when the host has ended."""
    loop = backend.loop
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(
            _main(
                db, names, backend, until, host_settings, on_frame, frame_every, on_host, services
            )
        )
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def _main(  # noqa: PLR0917 - private glue
    db: StoreSettings,
    names: Sequence[str],
    backend: Backend,
    until: float | None,
    host_settings: HostSettings | None,
    on_frame: FrameFn | None,
    frame_every: float,
    on_host: HostFn | None,
    services: ServicesFn | None = None,
) -> HostOutcome:
    loop = asyncio.get_running_loop()
    worker = worker_name()
    hs = host_settings or HostSettings(host_id=worker)
    outcome = HostOutcome(campaigns=list(names))
    with clock_hold(loop):
        store = await Store.open(db)
    try:
        leases = {name: LeaseKeeper(store, name, worker) for name in names}
        with clock_hold(loop):
            error = await _prepare(store, names, leases)
        if error is not None:
            with clock_hold(loop):
                for keeper in leases.values():
                    await keeper.release()
            outcome.status, outcome.error = 2, error
            return outcome
        try:
            with clock_hold(loop):
                await backend.open()
        except TelephonyError as exc:  # the PBX is unreachable or refused the login
            with clock_hold(loop):
                for keeper in leases.values():
                    await keeper.release()
            outcome.status, outcome.error = 2, str(exc)
            return outcome
        try:
            with clock_hold(loop):
                host, floor = await _build(store, names, backend, worker, hs, leases)
            return await _serve(
                store,
                names,
                backend,
                host,
                floor,
                until,
                on_frame,
                frame_every,
                on_host,
                services,
                outcome,
                leases,
            )
        finally:
            with clock_hold(loop):
                await backend.close()
    finally:
        with clock_hold(loop):
            await store.close()


async def _serve(  # noqa: PLR0917 - private glue, split from _main for the backend's close
    store: Store,
    names: Sequence[str],
    backend: Backend,
    host: CampaignHost,
    floor: SimFloor | None,
    until: float | None,
    on_frame: FrameFn | None,
    frame_every: float,
    on_host: HostFn | None,
    services: ServicesFn | None,
    outcome: HostOutcome,
    leases: Mapping[str, LeaseKeeper],
) -> HostOutcome:
    loop = asyncio.get_running_loop()
    if on_host is not None:
        on_host(host, store)
    close_services = None
    if services is not None:
        with clock_hold(loop):
            close_services = await services(host, store)
    presence = _follow_presence(backend, host)
    _install_signals(loop, host)
    if on_frame is not None:
        _frames(loop, host, floor=floor, on_frame=on_frame, every=frame_every, backend=backend)
    if floor is not None:
        floor.start()
    try:
        await host.run(until=until)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if presence is not None:
            presence.cancel()
        if close_services is not None:
            with clock_hold(loop):
                await close_services()
        with clock_hold(loop):
            for keeper in leases.values():
                await keeper.release()
    if floor is not None:
        outcome.dispositions = {c: dict(n) for c, n in floor.counts.items()}
    outcome.live = {n: host.live_numbers(n) for n in names}
    if host.failures:
        outcome.status = 1
        outcome.error = "; ".join(f"campaign {n}: {why}" for n, why in host.failures.items())
    if on_frame is not None:
        on_frame(host, {} if floor is None else floor.counts)
    return outcome


def _follow_presence(backend: Backend, host: CampaignHost) -> asyncio.Task[None] | None:
    """Agents whose phones join their conference are logged in to the host (which picks
    their campaign); leaving it logs them out (AMI backend: ``telephony.presence``)."""
    tel = backend.telephony()
    if not isinstance(tel, AgentPresence):
        return None

    async def follow() -> None:
        async for ev in tel.presence():
            try:
                if isinstance(ev, AgentJoined):
                    host.login(ev.agent)
                else:
                    host.logout(ev.agent)
            except DialerError as exc:  # not assigned here, or mid-call: say so, go on
                log.warning("agent %s %s: %s", ev.agent, type(ev).__name__, exc)

    return asyncio.ensure_future(follow())


async def _prepare(
    store: Store, names: Sequence[str], leases: Mapping[str, LeaseKeeper]
) -> str | None:
    """Check every campaign before anything runs; an error message, or None."""
    if len(set(names)) != len(names):
        return "a campaign is named twice"
    await ensure_tables(store)
    for name in names:
        try:
            info = await store.get_campaign(name)
        except NotFound:
            return f"no campaign named {name!r} (create it with: dialer campaign create)"
        try:
            plan_campaign(info.name, info.mode, info.settings)
            policy_for(info.settings)
        except ConfigError as exc:
            return str(exc)
        except ValueError as exc:  # the contact-policy table
            return f"campaign {name}: {exc}"
        if not await leases[name].try_acquire():
            return f"campaign {name!r} is being run by another dialer process ({info.lease_owner})"
    for name in names:
        await store.set_campaign_status(name, CampaignStatus.RUNNING)
    return None


async def _build(  # noqa: PLR0917 - private glue
    store: Store,
    names: Sequence[str],
    backend: Backend,
    worker: str,
    hs: HostSettings,
    leases: Mapping[str, LeaseKeeper],
) -> tuple[CampaignHost, SimFloor | None]:
    loop = asyncio.get_running_loop()
    clock = Clock(loop, wall_at_start=backend.wall_start)
    control = StoreControl(store, leases=leases)
    agents = await store.list_agents()
    wanted = set(names)
    assignments = {
        a.code: [c for c in a.campaigns if c in wanted]
        for a in agents
        if a.active and wanted.intersection(a.campaigns)
    }
    mux = TelephonyMux(backend.telephony())
    host = CampaignHost(
        control=control, telephony=mux, clock=clock, settings=hs, assignments=assignments
    )
    run_tag = format(int(time.time() * 1000) % 36**6, "x")
    for name in names:
        info = await store.get_campaign(name)
        plan = plan_campaign(info.name, info.mode, info.settings)
        supply = StoreLeadSupply(
            store, info.id, policy=policy_for(info.settings), worker=worker, lease=leases[name]
        )
        recovered = await supply.recover(at=clock.wall())
        if any(recovered):
            log.info("campaign %s: recovered %s open attempts of a previous run", name, recovered)
        host.add_campaign(
            HostedCampaign(
                name=name,
                mode=info.mode,
                settings=plan.settings,
                pacer=plan.make_pacer(),
                leads=HeldSupply(supply, loop, campaign=name, on_lost=control.lost.add),
                prefix=f"k{info.id}r{run_tag}.",
            )
        )
    floor = None
    if isinstance(backend, SimBackend):
        floor = SimFloor(
            host,
            store=store,
            clock=clock,
            agents=sorted(assignments),
            wrapup=backend.scenario.agents.wrapup,
            rng=backend.agent_rng,
            machine_calls=backend.telephony().machine_calls,
            schedule=backend.scenario.agents.schedule,
            planned=backend.scenario.agents.count,
        )
    return host, floor


def _install_signals(loop: asyncio.AbstractEventLoop, host: CampaignHost) -> None:
    """First SIGINT/SIGTERM: graceful stop (drain). Second: stop now."""
    task = asyncio.current_task()
    signals = {"n": 0}

    def on_signal() -> None:
        signals["n"] += 1
        if signals["n"] == 1:
            log.warning("stopping: no new calls; waiting for calls in flight (signal again: now)")
            host.stop()
        elif task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


def _frames(
    loop: asyncio.AbstractEventLoop,
    host: CampaignHost,
    *,
    floor: SimFloor | None,
    on_frame: FrameFn,
    every: float,
    backend: Backend,
) -> None:
    """Call ``on_frame`` about every ``every`` real seconds, on an engine-time tick."""
    last = {"t": -1e18}
    tick = 0.25 if not isinstance(backend, SimBackend) else max(0.25, backend.speed * 0.05)

    def frame() -> None:
        now = time.monotonic()
        if now - last["t"] >= every:
            last["t"] = now
            try:
                on_frame(host, {} if floor is None else floor.counts)
            except DialerError:
                log.exception("live view failed")
        loop.call_at(loop.time() + tick, frame)

    loop.call_soon(frame)
