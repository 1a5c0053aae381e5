"""The ``[rules]`` TOML section (and a campaign's ``windows`` table) to validated values.

Durations are written in the unit their key names (``*_minutes``, ``*_hours``,
``*_days``); windows as ``mon = ["08:00-12:00", "14:00-21:00"]``. Anything wrong (an
unknown key, a wrong type, an impossible value such as a window ending before it
starts) raises ConfigError naming the file, the dotted key and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from dialer.errors import ConfigError
from dialer.leads import AttemptOutcome
from rules.priority import PriorityWeights
from rules.settings import (
    DEFAULT_CONTACT_LIMITS,
    DEFAULT_RETRY_DELAYS,
    ContactLimits,
    PolicySettings,
)
from rules.windows import COUNTRY_WINDOWS, DAY_NAMES, CallingWindows

_INTS = {
    "max_per_phone_per_day": "max_per_phone_per_day",
    "max_per_lead_per_day": "max_per_lead_per_day",
    "weekly_cap": "weekly_cap",
    "conversation_quiet_days": "conversation_quiet_days",
}
_DURATIONS = {
    "weekly_period_days": ("weekly_period", timedelta(days=1)),
    "default_retry_minutes": ("default_retry_delay", timedelta(minutes=1)),
    "lead_min_gap_minutes": ("lead_min_gap", timedelta(minutes=1)),
    "abandon_quiet_hours": ("abandon_quiet", timedelta(hours=1)),
    "horizon_days": ("horizon", timedelta(days=1)),
}
_BOOLS = ("hold_for_callbacks", "hold_for_promises")
_FLOATS = ("callback_boost", "follow_up_boost")
_TABLES = (
    "retry_delays_minutes",
    "windows",
    "contact_limits",
    "priority",
    "frequency_excluded",
    "abandon_outcomes",
)
RULES_KEYS = (*_INTS, *_DURATIONS, *_BOOLS, *_FLOATS, "campaign_mode", *_TABLES)


def _table(source: str, key: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a table, got {type(value).__name__}")
    return value


def _number(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(source, key, f"expected a number, got {value!r}")
    return float(value)


def _outcome(source: str, key: str, name: str) -> AttemptOutcome:
    try:
        return AttemptOutcome(name)
    except ValueError:
        known = ", ".join(o.value for o in AttemptOutcome)
        raise ConfigError(source, key, f"unknown outcome {name!r} (known: {known})") from None


def _outcomes(source: str, key: str, value: object) -> frozenset[AttemptOutcome]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, key, "expected a list of outcome names")
    return frozenset(_outcome(source, key, v) for v in value)


def calling_windows_from_mapping(
    data: object, *, source: str, key: str, label: str = ""
) -> CallingWindows:
    """``{mon = ["08:00-21:00"], ..., closed_on_holidays = true}``; missing days are closed."""
    table = _table(source, key, data)
    spans: dict[int | str, list[tuple[str, str]]] = {}
    closed = False
    for name, value in table.items():
        where = f"{key}.{name}"
        if name == "closed_on_holidays":
            if not isinstance(value, bool):
                raise ConfigError(source, where, f"expected true or false, got {value!r}")
            closed = value
            continue
        if name not in DAY_NAMES:
            raise ConfigError(source, where, f"unknown key (weekdays: {', '.join(DAY_NAMES)})")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(source, where, 'expected a list like ["08:00-21:00"]')
        day: list[tuple[str, str]] = []
        for text in value:
            start, sep, end = text.partition("-")
            if not sep:
                raise ConfigError(source, where, f"{text!r} is not START-END (e.g. 08:00-21:00)")
            day.append((start.strip(), end.strip()))
        spans[name] = day
    try:
        return CallingWindows.weekly(spans, closed_on_holidays=closed, source=label or key)
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None


def _contact_limits(source: str, key: str, data: object) -> ContactLimits:
    table = _table(source, key, data)
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        if name not in ("per_day", "per_week"):
            raise ConfigError(source, f"{key}.{name}", "unknown key (per_day, per_week)")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, f"{key}.{name}", f"expected an integer, got {value!r}")
        kwargs[name] = value
    try:
        return ContactLimits(**kwargs, source=f"{key} (config)")
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None


def priority_weights_from_mapping(data: object, *, source: str, key: str) -> PriorityWeights:
    table = _table(source, key, data)
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        where = f"{key}.{name}"
        if name == "segments":
            segs = _table(source, where, value)
            kwargs["segments"] = {s: _number(source, f"{where}.{s}", w) for s, w in segs.items()}
        elif name == "dpd_cap":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(source, where, f"expected an integer, got {value!r}")
            kwargs[name] = value
        elif name in ("default_segment", "amount_weight", "amount_unit", "dpd_weight"):
            kwargs[name] = _number(source, where, value)
        else:
            raise ConfigError(source, where, "unknown key")
    try:
        return PriorityWeights(**kwargs)
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None


def policy_settings_from_mapping(
    data: object, *, source: str, key: str = "rules"
) -> PolicySettings:
    """The ``[rules]`` table to ``PolicySettings`` (absent keys keep their defaults)."""
    table = _table(source, key, data)
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        where = f"{key}.{name}"
        if name in _INTS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(source, where, f"expected an integer, got {value!r}")
            kwargs[_INTS[name]] = value
        elif name in _DURATIONS:
            field, unit = _DURATIONS[name]
            kwargs[field] = unit * _number(source, where, value)
        elif name in _BOOLS:
            if not isinstance(value, bool):
                raise ConfigError(source, where, f"expected true or false, got {value!r}")
            kwargs[name] = value
        elif name in _FLOATS:
            kwargs[name] = _number(source, where, value)
        elif name == "campaign_mode":
            kwargs[name] = value
        elif name == "retry_delays_minutes":
            delays = dict(DEFAULT_RETRY_DELAYS)
            for outcome, minutes in _table(source, where, value).items():
                o = _outcome(source, f"{where}.{outcome}", outcome)
                delays[o] = timedelta(minutes=_number(source, f"{where}.{outcome}", minutes))
            kwargs["retry_delays"] = delays
        elif name == "windows":
            countries = dict(COUNTRY_WINDOWS)
            for country, spec in _table(source, where, value).items():
                countries[country] = calling_windows_from_mapping(
                    spec, source=source, key=f"{where}.{country}", label=f"{country} (config)"
                )
            kwargs["country_windows"] = countries
        elif name == "contact_limits":
            limits = dict(DEFAULT_CONTACT_LIMITS)
            for country, spec in _table(source, where, value).items():
                limits[country] = _contact_limits(source, f"{where}.{country}", spec)
            kwargs["contact_limits"] = limits
        elif name in ("frequency_excluded", "abandon_outcomes"):
            kwargs[name] = _outcomes(source, where, value)
        elif name == "priority":
            continue  # read by priority_weights_from_mapping
        else:
            raise ConfigError(source, where, f"unknown key (known: {', '.join(RULES_KEYS)})")
    try:
        return replace(PolicySettings(), **kwargs)
    except ValueError as exc:
        raise ConfigError(source, f"{key}.{_toml_name(str(exc))}", str(exc)) from None


def _toml_name(message: str) -> str:
    """The TOML key behind a PolicySettings field named at the start of ``message``."""
    field = message.split(":", 1)[0].split("[", 1)[0]
    back = {f: k for k, (f, _unit) in _DURATIONS.items()}
    back.update(retry_delays="retry_delays_minutes", country_windows="windows")
    return back.get(field, field)


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """A configuration file's ``[rules]`` table: the contact policy and lead priority."""

    policy: PolicySettings = field(default_factory=PolicySettings)
    priority: PriorityWeights = field(default_factory=PriorityWeights)

    @classmethod
    def from_toml(cls, data: object, *, source: str, path: str) -> RulesConfig:
        table = _table(source, path, data)
        policy = policy_settings_from_mapping(table, source=source, key=path)
        weights = (
            priority_weights_from_mapping(table["priority"], source=source, key=f"{path}.priority")
            if "priority" in table
            else PriorityWeights()
        )
        return cls(policy=policy, priority=weights)
