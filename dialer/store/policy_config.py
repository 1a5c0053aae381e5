"""A campaign's contact-policy settings (its ``settings["rules"]`` table) -> ``ContactPolicy``.

Keys (all optional; defaults are ``rules.settings.PolicySettings``'s):
``max_per_phone_per_day``, ``max_per_lead_per_day``, ``weekly_cap``,
``conversation_quiet_days`` (integers); ``abandon_quiet_hours``, ``lead_min_gap_minutes``
(numbers); ``retry_delays_minutes`` (table: outcome -> minutes, e.g. ``busy = 15``).
An unknown key or a bad value raises ValueError naming it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dialer.leads import AttemptOutcome
from rules.policy import ContactPolicy
from rules.settings import DEFAULT_RETRY_DELAYS, PolicySettings

_INTS = ("max_per_phone_per_day", "max_per_lead_per_day", "weekly_cap", "conversation_quiet_days")
_KEYS = (*_INTS, "abandon_quiet_hours", "lead_min_gap_minutes", "retry_delays_minutes")


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"rules.{key}: expected a number >= 0, got {value!r}")
    return float(value)


def policy_settings(table: dict[str, Any] | None) -> PolicySettings:
    table = dict(table or {})
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ValueError(f"rules: unknown key(s) {unknown}; known: {', '.join(_KEYS)}")
    kw: dict[str, Any] = {k: table[k] for k in _INTS if k in table}
    if "abandon_quiet_hours" in table:
        kw["abandon_quiet"] = timedelta(
            hours=_number("abandon_quiet_hours", table["abandon_quiet_hours"])
        )
    if "lead_min_gap_minutes" in table:
        kw["lead_min_gap"] = timedelta(
            minutes=_number("lead_min_gap_minutes", table["lead_min_gap_minutes"])
        )
    if "retry_delays_minutes" in table:
        delays = dict(DEFAULT_RETRY_DELAYS)
        given = table["retry_delays_minutes"]
        if not isinstance(given, dict):
            raise ValueError("rules.retry_delays_minutes: expected a table outcome -> minutes")
        for name, minutes in given.items():
            try:
                outcome = AttemptOutcome(name)
            except ValueError:
                raise ValueError(
                    f"rules.retry_delays_minutes.{name}: not an outcome "
                    f"({', '.join(o.value for o in AttemptOutcome)})"
                ) from None
            delays[outcome] = timedelta(minutes=_number(f"retry_delays_minutes.{name}", minutes))
        kw["retry_delays"] = delays
    try:
        return PolicySettings(**kw)
    except ValueError as exc:
        raise ValueError(f"rules.{exc}") from None


def policy_for(settings: dict[str, Any]) -> ContactPolicy:
    """The contact policy of a campaign, from its settings (``settings["rules"]``)."""
    return ContactPolicy(policy_settings(settings.get("rules")))
