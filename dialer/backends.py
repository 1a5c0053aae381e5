"""Telephony backends for the campaign host, chosen by configuration: a small factory.

``sim``: the simulator's PBX (``SimTelephony``) on a scenario's traffic model, on a
virtual clock that is held while the engine waits on the database
(``simulator.held_loop``) and runs at ``speed`` times real time (0: as fast as
possible). Its wall clock starts at the scenario's ``start``.

``ami``: Asterisk over AMI (``telephony.ami.AmiTelephony``) on a real event loop and the
real clock, with the servers of the configuration file's ``[ami]`` section; agents log in
through their phones (their conference), and when a server's outbound extension is
``engine`` our AudioSocket detector (``[audiosocket]``) serves the calls' audio.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import holidays
import numpy as np

from dialer.errors import ConfigError, TelephonyError
from simulator.held_loop import HeldVirtualTimeLoop
from simulator.ledger import Ledger
from simulator.run import keep_pace
from simulator.scenario import Scenario, load_scenario
from simulator.telephony import SimTelephony
from telephony.ami import AmiTelephony
from telephony.ami_settings import AmiSettings
from telephony.audiosocket_server import AudioSocketSettings
from telephony.engine_amd import EngineAmd
from telephony.port import Telephony

BACKENDS = ("sim", "ami")


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSettings:
    """``kind``: sim | ami. ``scenario``: the traffic model (sim). ``speed``: simulated
    seconds per real second, 0 for as fast as possible (sim). ``seed``: overrides the
    scenario's seed (sim)."""

    kind: str = "sim"
    scenario: Path | None = None
    speed: float = 1.0
    seed: int | None = None
    start: datetime | None = None  # sim: the engine's wall clock at start (tz-aware)
    countries: tuple[str, ...] = ()  # sim: whose working days ``sim_start`` looks for
    ami: tuple[AmiSettings, ...] = ()  # ami: the servers ([ami] of the config file)
    audiosocket: AudioSocketSettings | None = None  # ami: our detector's server

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {', '.join(BACKENDS)}")
        if self.speed < 0:
            raise ValueError("speed: must be >= 0 (0: as fast as possible)")
        if self.kind == "sim" and self.scenario is None:
            raise ValueError("scenario: the sim backend needs a scenario file")
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")


class Backend:
    """An event loop and, once it runs, the telephony port on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wall_start: datetime) -> None:
        self.loop = loop
        self.wall_start = wall_start

    def telephony(self) -> Telephony:  # pragma: no cover - overridden
        raise NotImplementedError

    async def open(self) -> None:
        """Connect whatever the backend needs, inside its running loop (default: nothing)."""

    async def close(self) -> None:
        """Undo ``open``."""


class AmiBackend(Backend):
    """Asterisk over AMI: one connection per ``[[ami.server]]``, real time."""

    def __init__(
        self,
        servers: tuple[AmiSettings, ...],
        audiosocket: AudioSocketSettings | None,
        *,
        start: datetime | None = None,
    ) -> None:
        # ``start``: the engine's wall clock at start; None is now (tests pin a weekday).
        super().__init__(asyncio.new_event_loop(), start or datetime.now(UTC))
        self._servers = servers
        self._audiosocket = audiosocket
        self._tel: AmiTelephony | None = None
        self._amd: EngineAmd | None = None

    def telephony(self) -> AmiTelephony:
        if self._tel is None:
            self._tel = AmiTelephony(self._servers)
        return self._tel

    async def open(self) -> None:
        tel = self.telephony()
        await tel.start()  # TelephonyError naming host:port (never the secret)
        engine = any(s.outbound_exten == "engine" for s in self._servers)
        audiosocket = self._audiosocket
        if engine and audiosocket is None:
            audiosocket = AudioSocketSettings()  # a server's extension needs our detector
        if audiosocket is not None:
            self._audiosocket = audiosocket
            self._amd = EngineAmd(tel, self._audiosocket)
            try:
                await self._amd.start()
            except OSError as exc:
                self._amd = None
                await tel.close()
                where = f"{audiosocket.host}:{audiosocket.port}"
                raise TelephonyError(f"AudioSocket server cannot listen on {where}: {exc}") from exc

    async def close(self) -> None:
        if self._amd is not None:
            await self._amd.close()
        if self._tel is not None:
            await self._tel.close()


class SimBackend(Backend):
    def __init__(self, scenario: Scenario, *, speed: float, start: datetime) -> None:
        loop = HeldVirtualTimeLoop()
        super().__init__(loop, start)
        self.scenario = scenario
        self.speed = speed
        seeds = np.random.SeedSequence(scenario.seed).spawn(2)
        self.traffic_rng = np.random.default_rng(seeds[0])
        self.agent_rng = np.random.default_rng(seeds[1])
        self.ledger = Ledger(duration=scenario.duration)
        self._tel: SimTelephony | None = None
        if speed > 0:
            keep_pace(loop, speed)

    def telephony(self) -> SimTelephony:
        """The simulated PBX (created once, inside the running loop)."""
        if self._tel is None:
            self._tel = SimTelephony(
                self.scenario,
                rng=self.traffic_rng,
                ledger=self.ledger,
                loop=self.loop,
                t0=self.loop.time(),
            )
        return self._tel


def open_backend(settings: BackendSettings) -> Backend:
    """The backend ``settings`` name; bad files raise ``ConfigError``."""
    if settings.kind == "ami":
        if not settings.ami:
            raise ConfigError(
                "backend", "ami", "no Asterisk server: give --config with an [ami] section"
            )
        return AmiBackend(settings.ami, settings.audiosocket, start=settings.start)
    assert settings.scenario is not None
    scenario = load_scenario(settings.scenario)
    if settings.seed is not None:
        scenario = scenario.replace_settings(seed=settings.seed)
    start = settings.start or sim_start(
        scenario.start, now=datetime.now(UTC), countries=settings.countries
    )
    return SimBackend(scenario, speed=settings.speed, start=start)


def sim_start(template: datetime, *, now: datetime, countries: tuple[str, ...]) -> datetime:
    """The first working day at or after ``now`` at ``template``'s time of day (and UTC
    offset): Monday to Friday, not a public holiday of any of ``countries``.

    A store-backed simulation dials real rows: leads imported a minute ago are eligible
    from their import time on, and the contact rules allow calls only in the debtors'
    calling windows. A scenario's own date (often in the past) would find nothing to
    dial, so the simulated shift is moved to the next working day instead, keeping the
    scenario's time of day.
    """
    tz = template.tzinfo
    local_now = now.astimezone(tz)
    day = local_now.date()
    calendars = [holidays.country_holidays(c) for c in countries if c]
    for _ in range(30):
        at = datetime.combine(day, template.timetz())
        if at >= local_now and day.weekday() < 5 and not any(day in cal for cal in calendars):
            return at
        day += timedelta(days=1)
    raise ConfigError("backend", "start", "no working day within 30 days")
