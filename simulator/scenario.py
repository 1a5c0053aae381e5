"""Scenario files: the simulator's input, loaded and validated once, then trusted.

The format is a contract with people outside the team (``shared/SCENARIOS.md``): files
written to it must load unchanged, and anything the format does not define is refused.
An unknown key is an error, never ignored, because a typo (``abandon_targt``) would
otherwise silently run the default and mislead whoever tunes pacing on the result.

Every problem raises ``ConfigError(source, key, reason)``: the file, the dotted key
(``agents.talk``, ``agents.schedule[1]``) and what was expected. Times are seconds of
simulated time since ``start``; probabilities are ratios in 0..1. ``bool`` is never
accepted as a number even though Python says ``True == 1``.
"""

from __future__ import annotations

import difflib
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any, NoReturn

from dialer.errors import ConfigError
from dialer.toml_file import read_toml
from simulator.distributions import Constant, Distribution, Uniform, parse_distribution

# Defaults of the optional model keys, as SCENARIOS.md states them (seconds).
DEFAULT_BUSY_AFTER: Distribution = Uniform(2.0, 4.0)
DEFAULT_FAILED_AFTER: Distribution = Uniform(1.0, 3.0)
DEFAULT_MACHINE_HOLD: Distribution = Constant(10.0)
DEFAULT_LEADS = 10_000_000


@dataclass(frozen=True, slots=True)
class Profile:
    """A step function of simulated time: ``values[i]`` holds from ``times[i]`` (seconds) on.

    Times are strictly increasing and the first is 0, so every instant of the run has a
    value; before 0 (never asked by the simulator) the first value holds.
    """

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.values):
            raise ValueError("a profile needs one value per time, and at least one pair")
        if self.times[0] != 0:
            raise ValueError(f"the first pair must be at time 0, got {self.times[0]:g}")
        for before, after in zip(self.times, self.times[1:], strict=False):
            if not after > before:
                raise ValueError(f"times must be strictly increasing; {after:g} follows {before:g}")

    @classmethod
    def constant(cls, value: float) -> Profile:
        return cls((0.0,), (float(value),))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[float, float]]) -> Profile:
        listed = list(pairs)
        return cls(tuple(float(t) for t, _ in listed), tuple(float(v) for _, v in listed))

    def value_at(self, t: float) -> float:
        # bisect_right: a breakpoint takes effect at its own instant, [t_i, t_i+1).
        return self.values[max(bisect_right(self.times, t) - 1, 0)]


@dataclass(frozen=True, slots=True)
class AgentsSpec:
    """``count`` agents logged in at 0; ``schedule`` pairs (time_s, agents from then on)."""

    count: int
    schedule: tuple[tuple[float, int], ...]
    talk: Distribution
    wrapup: Distribution

    def count_at(self, t: float) -> int:
        i = bisect_right(self.schedule, t, key=lambda pair: pair[0])
        return self.count if i == 0 else self.schedule[i - 1][1]


@dataclass(frozen=True, slots=True)
class TrafficSpec:
    """A dial's fate, drawn at dial time; the remainder of 1 is "no answer".

    ``human``/``machine`` are per-dial probabilities over time; ``busy``/``failed`` are
    probabilities. ``machine``, ``busy`` and ``failed`` default to 0 when a file omits
    them; ``human`` (or ``human_profile``) is required. Durations in seconds.
    """

    human: Profile
    machine: Profile
    busy: float
    failed: float
    ring: Distribution
    patience: Distribution
    busy_after: Distribution = DEFAULT_BUSY_AFTER
    failed_after: Distribution = DEFAULT_FAILED_AFTER


@dataclass(frozen=True, slots=True)
class AmdSpec:
    """The simulated answering-machine detector: error rates (0..1), delays (seconds)."""

    human_as_machine: float
    machine_as_human: float
    decision: Distribution
    machine_hold: Distribution = DEFAULT_MACHINE_HOLD


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """Campaign settings, seconds and ratios; ``max_lines`` (trunk channels) is our extension."""

    no_answer_timeout: float = 25.0
    connect_deadline: float = 2.0
    abandon_target: float = 0.03
    bridge_delay: float = 0.2
    max_lines: int | None = None


@dataclass(frozen=True, slots=True)
class LeadsSpec:
    """Synthetic portfolio size; the default is large enough not to run dry in a shift."""

    count: int = DEFAULT_LEADS


@dataclass(frozen=True, slots=True)
class Scenario:
    """One validated scenario. ``duration`` in seconds; ``start`` is tz-aware wall clock."""

    name: str
    seed: int
    duration: float
    start: datetime
    agents: AgentsSpec
    traffic: TrafficSpec
    amd: AmdSpec
    campaign: CampaignSpec
    leads: LeadsSpec
    source: str = "<scenario>"

    def agents_at(self, t: float) -> int:
        """Agents meant to be logged in at ``t`` seconds, from ``count`` and ``schedule``."""
        return self.agents.count_at(t)

    def replace_settings(
        self,
        *,
        agents: int | None = None,
        abandon_target: float | None = None,
        seed: int | None = None,
        connect_deadline: float | None = None,
        no_answer_timeout: float | None = None,
        duration: float | None = None,
    ) -> Scenario:
        """A copy with command-line / sweep overrides, validated like the file's values.

        Overriding ``agents`` scales every scheduled count by ``new/old``, rounded half
        up, so a sweep keeps the shift's shape (no scaling when the old count is 0: the
        ratio is undefined). A shorter ``duration`` drops schedule entries at or after it.
        """
        src = f"{self.source} (override)"
        out, ag = self, self.agents
        if seed is not None:
            out = replace(out, seed=_integer(src, "seed", seed))
        if duration is not None:
            d = _number(src, "duration", duration, _POSITIVE)
            ag = replace(ag, schedule=tuple(p for p in ag.schedule if p[0] < d))
            out = replace(out, duration=d)
        if agents is not None:
            new, old = _integer(src, "agents.count", agents), ag.count
            schedule = ag.schedule
            if old > 0:
                # Integer round-half-up of n*new/old: exact, no float ties.
                schedule = tuple((t, (2 * n * new + old) // (2 * old)) for t, n in schedule)
            ag = replace(ag, count=new, schedule=schedule)
        wanted = {
            "abandon_target": abandon_target,
            "connect_deadline": connect_deadline,
            "no_answer_timeout": no_answer_timeout,
        }
        changes: dict[str, Any] = {  # Any: replace() is typed per field by mypy
            name: _number(src, f"campaign.{name}", value, _CAMPAIGN_CHECKS[name])
            for name, value in wanted.items()
            if value is not None
        }
        return replace(out, agents=ag, campaign=replace(self.campaign, **changes))


# What each table may hold (SCENARIOS.md, plus our optional extensions).
_TOP_KEYS: tuple[str, ...] = ("name", "seed", "duration", "start", "agents", "traffic", "amd")
_TOP_KEYS += ("campaign", "leads")
_AGENTS_KEYS = ("count", "schedule", "talk", "wrapup")
_TRAFFIC_KEYS: tuple[str, ...] = ("human", "machine", "busy", "failed", "human_profile")
_TRAFFIC_KEYS += ("machine_profile", "ring", "patience", "busy_after", "failed_after")
_AMD_KEYS = ("human_as_machine", "machine_as_human", "decision", "machine_hold")


@dataclass(frozen=True, slots=True)
class _Range:
    """What a number must be: ``what`` for the error message, ``ok`` to test it."""

    what: str
    ok: Callable[[float], bool]


_PROBABILITY = _Range("a probability in [0, 1]", lambda x: 0 <= x <= 1)
_ABANDON = _Range("a ratio in (0, 1)", lambda x: 0 < x < 1)
_POSITIVE = _Range("seconds > 0", lambda x: x > 0)
_NON_NEGATIVE = _Range("seconds >= 0", lambda x: x >= 0)
# The float settings of [campaign] and their ranges; max_lines is handled apart.
_CAMPAIGN_CHECKS = {
    "no_answer_timeout": _POSITIVE,
    "connect_deadline": _NON_NEGATIVE,
    "abandon_target": _ABANDON,
    "bridge_delay": _NON_NEGATIVE,
}
_CAMPAIGN_KEYS = (*_CAMPAIGN_CHECKS, "max_lines")
_START_EXAMPLE = "an ISO-8601 datetime with UTC offset, like 2026-03-02T09:00:00-06:00"
_DIST_EXAMPLE = 'a distribution like { dist = "uniform", low = 1, high = 3 }'
# Float sums of probabilities (0.1 + 0.2 ...) may exceed 1 by an ulp or two.
_SUM_SLACK = 1e-9


def _show(value: object) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, date | time):  # TOML dates and times; datetime is a date
        return value.isoformat()
    return repr(value)


def _number(source: str, key: str, value: object, check: _Range) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not check.ok(float(value))
    ):
        raise ConfigError(source, key, f"expected {check.what}, got {_show(value)}")
    return float(value)


def _integer(source: str, key: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(source, key, f"expected an integer >= {minimum}, got {_show(value)}")
    return value


class _Table:
    """One TOML table being read; every error names ``source`` and the dotted key.

    Unknown keys are refused on construction. Getters take a ``default``; ``None``
    means the key is required.
    """

    def __init__(self, source: str, data: object, path: str, allowed: tuple[str, ...]) -> None:
        self.source, self.path = source, path
        if not isinstance(data, Mapping):
            self.fail("", f"expected a table [{path}], got {_show(data)}")
        self.data: Mapping[str, object] = data
        for name in data:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.fail(name, f"unknown key{maybe}; expected one of {', '.join(allowed)}")

    def key(self, name: str) -> str:
        return ".".join(part for part in (self.path, name) if part)

    def fail(self, name: str, reason: str) -> NoReturn:
        raise ConfigError(self.source, self.key(name), reason)

    def get(self, name: str, default: object, what: str) -> object:
        if name in self.data:
            return self.data[name]
        if default is None:
            self.fail(name, f"required key missing; expected {what}")
        return default

    def sub(self, name: str, allowed: tuple[str, ...], *, required: bool) -> _Table:
        if name not in self.data and required:
            self.fail(name, f"required table missing; expected [{self.key(name)}]")
        return _Table(self.source, self.data.get(name, {}), self.key(name), allowed)

    def number(self, name: str, check: _Range, default: float | None = None) -> float:
        return _number(self.source, self.key(name), self.get(name, default, check.what), check)

    def integer(self, name: str, default: int | None = None, minimum: int = 0) -> int:
        raw = self.get(name, default, f"an integer >= {minimum}")
        return _integer(self.source, self.key(name), raw, minimum)

    def dist(self, name: str, default: Distribution | None = None) -> Distribution:
        if name not in self.data and default is not None:
            return default
        raw = self.get(name, None, _DIST_EXAMPLE)
        return parse_distribution(raw, source=self.source, key=self.key(name))

    def pairs(self, name: str, shape: str) -> list[tuple[str, object, object]]:
        """``(key, first, second)`` of each ``[a, b]`` pair in a list; missing is empty."""
        value = self.data.get(name, [])
        if not isinstance(value, list):
            self.fail(name, f"expected a list of {shape} pairs, got {_show(value)}")
        out: list[tuple[str, object, object]] = []
        for i, pair in enumerate(value):
            key = f"{self.key(name)}[{i}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise ConfigError(self.source, key, f"expected a {shape} pair, got {_show(pair)}")
            out.append((key, pair[0], pair[1]))
        return out

    def profile(self, name: str) -> Profile:
        points = [
            (_number(self.source, k, t, _NON_NEGATIVE), _number(self.source, k, v, _PROBABILITY))
            for k, t, v in self.pairs(name, "[time_s, probability]")
        ]
        try:
            return Profile.from_pairs(points)
        except ValueError as exc:
            self.fail(name, f"{exc}; expected sorted [time_s, probability] pairs, the first at 0")

    def schedule(self, name: str, duration: float) -> tuple[tuple[float, int], ...]:
        within = _Range(
            f"a time in [0, duration = {duration:g}) seconds", lambda x: 0 <= x < duration
        )
        out: list[tuple[float, int]] = []
        for key, t, n in self.pairs(name, "[time_s, agents]"):
            at, count = _number(self.source, key, t, within), _integer(self.source, key, n)
            if out and at <= out[-1][0]:
                reason = f"times must be strictly increasing; {at:g} follows {out[-1][0]:g}"
                raise ConfigError(self.source, key, reason)
            out.append((at, count))
        return tuple(out)

    def start(self, today: date | None, tz: tzinfo | None) -> datetime:
        value = self.data.get("start")
        if value is None:
            day = today if today is not None else date.today()
            if tz is None:
                # astimezone() on a naive datetime attaches the machine's local offset
                # in force at that instant (DST-correct), not the offset of "now".
                return datetime.combine(day, time(9)).astimezone()
            return datetime.combine(day, time(9), tzinfo=tz)
        parsed: object = value
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                self.fail("start", f"expected {_START_EXAMPLE}, got {value!r}")
        if not isinstance(parsed, datetime):
            self.fail("start", f"expected {_START_EXAMPLE}, got {_show(value)}")
        if parsed.utcoffset() is None:
            # A naive time is ambiguous for calling-hours rules: refuse, don't guess.
            self.fail("start", f"no UTC offset; expected {_START_EXAMPLE}, got {_show(value)}")
        return parsed


def parse_scenario(
    data: Mapping[str, object],
    *,
    source: str,
    today: date | None = None,
    tz: tzinfo | None = None,
) -> Scenario:
    """Validate parsed TOML (``data``) into a ``Scenario``; ``source`` names it in errors.

    ``today`` and ``tz`` fix the default ``start`` (09:00 on ``today`` in ``tz``), which
    is otherwise 09:00 today in the machine's local zone: the one place this reads a clock.
    """
    top = _Table(source, data, "", _TOP_KEYS)
    name = top.get("name", None, "a non-empty string")
    if not isinstance(name, str) or not name.strip():
        top.fail("name", f"expected a non-empty string, got {_show(name)}")
    duration = top.number("duration", _POSITIVE)
    a = top.sub("agents", _AGENTS_KEYS, required=True)
    agents = AgentsSpec(
        a.integer("count"), a.schedule("schedule", duration), a.dist("talk"), a.dist("wrapup")
    )
    traffic = _parse_traffic(top.sub("traffic", _TRAFFIC_KEYS, required=True))
    m = top.sub("amd", _AMD_KEYS, required=True)
    amd = AmdSpec(
        human_as_machine=m.number("human_as_machine", _PROBABILITY),
        machine_as_human=m.number("machine_as_human", _PROBABILITY),
        decision=m.dist("decision"),
        machine_hold=m.dist("machine_hold", DEFAULT_MACHINE_HOLD),
    )
    c, defaults = top.sub("campaign", _CAMPAIGN_KEYS, required=False), CampaignSpec()
    settings: dict[str, Any] = {  # Any: see replace_settings
        name: c.number(name, check, getattr(defaults, name))
        for name, check in _CAMPAIGN_CHECKS.items()
    }
    max_lines = c.integer("max_lines", minimum=1) if "max_lines" in c.data else None
    campaign = replace(defaults, max_lines=max_lines, **settings)
    leads = LeadsSpec(top.sub("leads", ("count",), required=False).integer("count", DEFAULT_LEADS))
    seed, start = top.integer("seed", 1), top.start(today, tz)
    return Scenario(name, seed, duration, start, agents, traffic, amd, campaign, leads, source)


def _parse_traffic(t: _Table) -> TrafficSpec:
    # The scalar is validated even when a profile overrides it: a bad value is a bad file.
    has_profile = "human_profile" in t.data
    human_scalar = t.number("human", _PROBABILITY, 0.0 if has_profile else None)
    machine_scalar = t.number("machine", _PROBABILITY, 0.0)
    human = t.profile("human_profile") if has_profile else Profile.constant(human_scalar)
    machine = (
        t.profile("machine_profile")
        if "machine_profile" in t.data
        else Profile.constant(machine_scalar)
    )
    busy, failed = t.number("busy", _PROBABILITY, 0.0), t.number("failed", _PROBABILITY, 0.0)
    # The fate is drawn from the values in force at dial time, so the four must leave a
    # non-negative "no answer" remainder at every instant: check every breakpoint.
    for at in sorted(set(human.times) | set(machine.times)):
        total = human.value_at(at) + machine.value_at(at) + busy + failed
        if total > 1 + _SUM_SLACK:
            t.fail(
                "",
                "human + machine + busy + failed must be <= 1 at every instant;"
                f" it is {total:.4g} at t = {at:g} s",
            )
    ring, patience = t.dist("ring"), t.dist("patience")
    busy_after = t.dist("busy_after", DEFAULT_BUSY_AFTER)
    failed_after = t.dist("failed_after", DEFAULT_FAILED_AFTER)
    return TrafficSpec(human, machine, busy, failed, ring, patience, busy_after, failed_after)


def load_scenario(
    path: str | Path, *, today: date | None = None, tz: tzinfo | None = None
) -> Scenario:
    """Read and validate a scenario file; every failure is a ``ConfigError`` naming ``path``.

    ``today``/``tz``: see ``parse_scenario``. A missing or unreadable file is reported
    under the key ``(file)``; a TOML syntax error under its ``line N, column M``.
    """
    source = str(path)
    data = read_toml(path)
    return parse_scenario(data, source=source, today=today, tz=tz)
