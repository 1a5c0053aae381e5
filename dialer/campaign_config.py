"""A campaign's settings JSON (the ``campaigns.settings`` column), validated into what
the host runs: ``CampaignSettings``, the pacer's name and its tunables.

Keys: every ``CampaignSettings`` field except ``campaign`` (seconds, ratios in 0..1),
plus ``pacer`` (a ``pacing.registry`` name; default: the campaign's mode),
``dial_level`` (calls per ready agent, the ratio pacer) and ``rules`` (the contact
policy's table, validated by the store's policy configuration). An unknown key, a wrong type or
an impossible value is a ``ConfigError("campaign NAME", key, reason)``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dialer.errors import ConfigError
from dialer.ids import CampaignId
from dialer.settings import CampaignSettings
from pacing.base import Pacer
from pacing.registry import PACERS, make_pacer

MODES = ("predictive", "progressive", "ratio")
_FIELDS = {f.name: f for f in dataclasses.fields(CampaignSettings) if f.name != "campaign"}
# ``rules``: the contact-policy table (``dialer.store.policy_config``), checked there.
_EXTRA: dict[str, tuple[type, ...]] = {
    "pacer": (str,),
    "dial_level": (int, float),
    "rules": (dict,),
}
KEYS = (*_FIELDS, *_EXTRA)


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    name: str
    mode: str
    settings: CampaignSettings
    pacer_name: str
    dial_level: float

    def make_pacer(self) -> Pacer:
        return make_pacer(
            self.pacer_name,
            abandon_target=self.settings.abandon_target,
            connect_deadline=self.settings.connect_deadline,
            dial_level=self.dial_level,
        )


def _type_ok(value: object, default: object) -> bool:
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool | type(None))
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, str):
        return isinstance(value, str)
    return value is None or isinstance(value, int | float | str)


def plan_campaign(name: str, mode: str, data: Mapping[str, Any]) -> CampaignPlan:
    """Validate a campaign's mode and settings JSON; see the module text."""
    src = f"campaign {name}"
    if mode not in MODES:
        raise ConfigError(src, "mode", f"{mode!r} is not one of {', '.join(MODES)}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _EXTRA:
            if isinstance(value, bool) or not isinstance(value, _EXTRA[key]):
                raise ConfigError(src, key, f"wrong type {type(value).__name__}")
            continue
        field = _FIELDS.get(key)
        if field is None:
            near = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(src, key, f"unknown setting{hint}; expected one of {', '.join(KEYS)}")
        default = field.default
        if key == "max_lines":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        elif key in ("machine_prompt", "amd"):
            ok = value is None or isinstance(value, str)
        else:
            ok = _type_ok(value, default)
        if not ok:
            raise ConfigError(src, key, f"wrong type {type(value).__name__}")
        kwargs[key] = float(value) if isinstance(default, float) else value
    pacer = str(data.get("pacer", mode))
    if pacer not in PACERS:
        raise ConfigError(src, "pacer", f"{pacer!r} is not one of {', '.join(PACERS)}")
    dial_level = float(data.get("dial_level", 2.0))
    if not dial_level > 0:
        raise ConfigError(src, "dial_level", "must be > 0 calls per ready agent")
    settings = CampaignSettings(campaign=CampaignId(name), **kwargs)  # raises ConfigError
    return CampaignPlan(name, mode, settings, pacer, dial_level)
