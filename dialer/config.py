"""Dialer configuration files: loaded and validated once at the edge, then trusted.

A file holds ``[campaign]`` (the ``CampaignSettings`` a file may set) and ``[pacing]``
(``mode``, an optional ``pacer`` and one table of tunables per tunable pacer:
``[pacing.predictive]``, ``[pacing.ratio]``), and one section per service (``SECTIONS``:
``[api]``, ``[metrics]``, ``[rules]``, ``[ami]``, ``[audiosocket]``, ``[store]``, ``[host]``).
``config.example.toml`` documents every key with its default. Read by ``dialer simulate
--config`` and ``dialer campaign start --config``.

Invariants:

- The keys a file may hold are derived from the code they configure, so the two cannot
  drift: ``[campaign]`` from the fields of ``CampaignSettings``, each ``[pacing.NAME]``
  from the keyword-only parameters of the pacer's constructor (their defaults give the
  types; ``abandon_target`` and ``connect_deadline`` come from ``[campaign]`` only).
- An unknown key at any level is an error naming the expected keys, never ignored: a
  typo (``abandon_targt``) would otherwise silently run the default.
- Types are strict: ``bool`` only where the default is a bool (never as a number, even
  though Python says ``True == 1``), integers where the default is an int, and floats
  accept integers. Impossible values are refused by the very classes that will use them
  (``CampaignSettings``, the pacers' constructors), so the file can never admit what
  they refuse.
- Every problem raises ``ConfigError(file, dotted.key, reason)``.
- ``DialerConfig`` remembers which keys the file *set*: only those override anything
  else (a scenario's ``[campaign]``, say); the rest are the code's defaults.

Times are seconds; ratios are in 0..1.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, time
from pathlib import Path
from typing import Any, TypedDict

from dialer.config_sections import parse_section
from dialer.errors import ConfigError
from dialer.ids import CampaignId
from dialer.settings import CampaignSettings
from dialer.toml_file import read_toml
from pacing.base import Pacer
from pacing.predictive import PredictivePacer
from pacing.ratio import RatioPacer
from pacing.registry import PACERS
from pacing.registry import make_pacer as registry_make_pacer

Scalar = bool | int | float | str

# The simulator's modes (simulator.run.MODES; a test keeps the two equal). Not imported
# from there: this module is the engine's, and must load without the simulator.
MODES: tuple[str, ...] = ("predictive", "progressive", "ratio")
DEFAULT_MODE = "predictive"

# CampaignSettings fields a file does not set: the campaign's id names a campaign, it is
# not a setting of one.
_NOT_IN_FILE = frozenset({"campaign"})
# Set in [campaign] only: the abandon ceiling and the deadline are the campaign's (and
# the regulator's), whichever pacer spends them.
FROM_CAMPAIGN = frozenset({"abandon_target", "connect_deadline"})
# The campaign settings the simulator has (CampaignSpec): what a config overrides there.
SIMULATOR_CAMPAIGN_KEYS = ("no_answer_timeout", "connect_deadline", "abandon_target", "max_lines")
# Pacers with tunables, each read from [pacing.<name>]; the other pacers have none.
PACER_CLASSES: dict[str, Callable[..., Pacer]] = {
    "predictive": PredictivePacer,
    "ratio": RatioPacer,
}
_SCALAR_TYPES: tuple[type, ...] = (bool, int, float, str)
_WHAT: dict[type, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a finite number",
    str: "a string",
}


def _scalar_type(hint: object) -> type | None:
    """``float`` for ``float``, ``int`` for ``int | None``; None for anything else."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if isinstance(hint, type) and hint in _SCALAR_TYPES else None


def _campaign_keys() -> dict[str, type]:
    hints = typing.get_type_hints(CampaignSettings)
    out: dict[str, type] = {}
    for f in fields(CampaignSettings):
        kind = _scalar_type(hints[f.name])
        if f.name not in _NOT_IN_FILE and kind is not None:
            out[f.name] = kind
    return out


def _tunables(cls: Callable[..., Pacer]) -> dict[str, Scalar]:
    """Keyword-only parameters of ``cls`` with a scalar default, minus ``FROM_CAMPAIGN``."""
    return {
        p.name: p.default
        for p in inspect.signature(cls).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and p.name not in FROM_CAMPAIGN
        and type(p.default) in _SCALAR_TYPES
    }


# [campaign] key -> its type.
CAMPAIGN_KEYS: dict[str, type] = _campaign_keys()
# Pacer name -> {tunable: default}; the default's type is the type the file must use.
TUNABLES: dict[str, dict[str, Scalar]] = {
    name: _tunables(cls) for name, cls in PACER_CLASSES.items()
}
# Further sections: [name] -> "module:Class", the settings dataclass of the module it
# configures (read by ``dialer.config_sections``). A section left out of the file is the
# class's defaults. Named, not imported: a module is loaded only when a file has its
# section, so `dialer simulate` does not pay for aiohttp, SQLAlchemy or the AMI stack.
SECTIONS: dict[str, str] = {
    "api": "dialer.agent_api:ApiSettings",
    "metrics": "dialer.metrics:MetricsSettings",
    "rules": "rules.config:RulesConfig",
    "ami": "telephony.ami_config:AmiConfig",
    "audiosocket": "telephony.audiosocket_server:AudioSocketSettings",
    "store": "dialer.store.settings:StoreSettings",
    "host": "dialer.host_config:HostConfig",
}


def section_class(name: str) -> type[Any]:
    """The settings class of section ``name`` (imports its module)."""
    module, _, attr = SECTIONS[name].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), attr)
    return cls


_TOP_KEYS = ("campaign", "pacing", *SECTIONS)
T = typing.TypeVar("T")
_PACING_KEYS = ("mode", "pacer", *PACER_CLASSES)


class CampaignOverrides(TypedDict, total=False):
    """The ``[campaign]`` values a file set that the simulator's scenarios also have."""

    no_answer_timeout: float
    connect_deadline: float
    abandon_target: float
    max_lines: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DialerConfig:
    """One validated configuration file.

    ``campaign``: the ``[campaign]`` keys the file set (the rest are ``CampaignSettings``
    defaults). ``mode``: the pacing mode (``predictive`` when unset). ``pacer``: the
    pacer's name, None for the mode's own. ``tunables``: per pacer name in
    ``PACER_CLASSES``, the keyword arguments its ``[pacing.<name>]`` table set.
    """

    source: str = "<config>"
    campaign: dict[str, Scalar] = field(default_factory=dict, hash=False)
    mode: str = DEFAULT_MODE
    pacer: str | None = None
    tunables: dict[str, dict[str, Scalar]] = field(default_factory=dict, hash=False)
    sections: dict[str, object] = field(default_factory=dict, hash=False)

    def section(self, cls: type[T]) -> T:
        """The settings of the section read into ``cls`` (its defaults if the file has none)."""
        path = f"{cls.__module__}:{cls.__qualname__}"
        for name, where in SECTIONS.items():
            if where == path:
                value = self.sections.get(name)
                return value if isinstance(value, cls) else cls()
        raise KeyError(f"{cls.__name__} is not a configuration section")

    def settings(self, campaign: CampaignId | None = None) -> CampaignSettings:
        """The full campaign settings: the file's values over ``CampaignSettings`` defaults.

        ``campaign`` names the campaign (``CampaignSettings``'s default when None).
        """
        values: dict[str, Any] = dict(self.campaign)  # Any: the types were checked at load
        if campaign is not None:
            values["campaign"] = campaign
        return CampaignSettings(**values)

    def campaign_overrides(self) -> CampaignOverrides:
        """The simulator's campaign settings this file set (``SIMULATOR_CAMPAIGN_KEYS``)."""
        out: dict[str, Any] = {
            k: self.campaign[k] for k in SIMULATOR_CAMPAIGN_KEYS if k in self.campaign
        }
        return typing.cast(CampaignOverrides, out)

    def pacer_name(self) -> str:
        """The pacer this file asks for: ``pacer``, else the mode's own."""
        return self.pacer or self.mode

    def changed_tunables(self, name: str) -> dict[str, Scalar]:
        """The tunables of pacer ``name`` this file sets to something but the default."""
        defaults = TUNABLES.get(name, {})
        return {k: v for k, v in self.tunables.get(name, {}).items() if v != defaults[k]}

    def make_pacer(
        self,
        name: str | None = None,
        *,
        abandon_target: float | None = None,
        connect_deadline: float | None = None,
    ) -> Pacer:
        """Pacer ``name`` (default: ``pacer_name()``) built with this file's tunables.

        ``abandon_target`` (0..1) and ``connect_deadline`` (seconds) default to the
        file's ``[campaign]``; pass the values in force when something overrides them (a
        scenario, a command-line flag). Raises ``ValueError`` on an unknown name and
        ``ConfigError`` (key ``pacing.<name>``) when the pacer refuses a value.
        """
        name = name or self.pacer_name()
        if name not in PACERS:
            raise ValueError(f"unknown pacer {name!r}; expected one of {', '.join(PACERS)}")
        defaults = self.settings()
        target = defaults.abandon_target if abandon_target is None else abandon_target
        deadline = defaults.connect_deadline if connect_deadline is None else connect_deadline
        cls = PACER_CLASSES.get(name)
        if cls is None:
            # No tunables: the registry builds it, exactly as without a file.
            return registry_make_pacer(name, abandon_target=target, connect_deadline=deadline)
        return _construct(
            self.source,
            name,
            cls,
            abandon_target=target,
            connect_deadline=deadline,
            tunables=self.tunables.get(name, {}),
        )


def _construct(
    source: str,
    name: str,
    cls: Callable[..., Pacer],
    *,
    abandon_target: float,
    connect_deadline: float,
    tunables: Mapping[str, Scalar],
) -> Pacer:
    accepted = inspect.signature(cls).parameters
    from_campaign = {
        k: v
        for k, v in (("abandon_target", abandon_target), ("connect_deadline", connect_deadline))
        if k in accepted
    }
    try:
        return cls(**from_campaign, **tunables)
    except (ValueError, OverflowError, MemoryError) as exc:
        # The constructor's own checks (ValueError), and values it does not check but
        # cannot build either (a dt of 1e-9 s asks numpy for an array of 10^11 bins).
        raise ConfigError(source, f"pacing.{name}", str(exc)) from exc


# ------------------------------------------------------------------ reading a file


def _show(value: object) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, date | time):  # TOML dates and times; datetime is a date
        return value.isoformat()
    if isinstance(value, Mapping):
        return "a table"
    return repr(value)


def _dotted(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _table(source: str, data: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, object]:
    """``data`` as a table holding only ``allowed`` keys; ``path`` is its dotted name."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, path, f"expected a table [{path}], got {_show(data)}")
    for name in data:
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            expected = ", ".join(allowed) if allowed else "no keys"
            raise ConfigError(
                source, _dotted(path, name), f"unknown key{maybe}; expected one of {expected}"
            )
    return data


def _scalar(source: str, key: str, value: object, kind: type) -> Scalar:
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(source, key, f"expected {_WHAT[kind]}, got {_show(value)}")
    assert isinstance(value, bool | int | float | str)
    return float(value) if kind is float else value


def _scalars(source: str, data: object, path: str, kinds: Mapping[str, type]) -> dict[str, Scalar]:
    table = _table(source, data, path, tuple(kinds))
    return {
        name: _scalar(source, _dotted(path, name), value, kinds[name])
        for name, value in table.items()
    }


def _choice(source: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(source, key, f"expected one of {', '.join(choices)}, got {_show(value)}")
    return value


def parse_config(data: Mapping[str, object], *, source: str) -> DialerConfig:
    """Validate parsed TOML (``data``) into a ``DialerConfig``; ``source`` names it in errors."""
    top = _table(source, data, "", _TOP_KEYS)
    campaign = _scalars(source, top.get("campaign", {}), "campaign", CAMPAIGN_KEYS)
    pacing = _table(source, top.get("pacing", {}), "pacing", _PACING_KEYS)
    mode = _choice(source, "pacing.mode", pacing.get("mode", DEFAULT_MODE), MODES)
    pacer = None
    if "pacer" in pacing:
        pacer = _choice(source, "pacing.pacer", pacing["pacer"], PACERS)
    tunables = {
        name: _scalars(
            source,
            pacing.get(name, {}),
            f"pacing.{name}",
            {key: type(default) for key, default in TUNABLES[name].items()},
        )
        for name in PACER_CLASSES
    }
    sections = {
        name: parse_section(source, name, top[name], section_class(name))
        for name in SECTIONS
        if name in top
    }
    config = DialerConfig(
        source=source,
        campaign=campaign,
        mode=mode,
        pacer=pacer,
        tunables=tunables,
        sections=sections,
    )
    # Impossible values: the classes that will use them are the judges.
    try:
        settings = config.settings()
    except ConfigError as exc:
        raise ConfigError(source, f"campaign.{exc.key}", exc.reason) from exc
    for name, cls in PACER_CLASSES.items():
        _construct(
            source,
            name,
            cls,
            abandon_target=settings.abandon_target,
            connect_deadline=settings.connect_deadline,
            tunables=tunables[name],
        )
    return config


def load_config(path: str | Path) -> DialerConfig:
    """Read and validate a configuration file; every failure is a ``ConfigError`` naming it.

    A missing or unreadable file is reported under the key ``(file)``; a TOML syntax
    error under its ``line N, column M``.
    """
    source = str(path)
    data = read_toml(path)
    return parse_config(data, source=source)
