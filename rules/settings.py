"""Every tunable of the contact policy, validated once (``__post_init__``) then trusted.

Durations are ``timedelta``; caps are counts of dial attempts. A bad value raises
ValueError naming the field and the reason (the config loader turns it into a
ConfigError with the file and key).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from dialer.leads import AttemptOutcome
from rules.windows import COUNTRY_WINDOWS, FALLBACK_WINDOWS, CallingWindows

_O = AttemptOutcome

# How long to wait before redialling a number, by how its last dial ended. Defaults are
# common collections practice, not law (the law-backed gaps are the separate 72 h and
# Reg F rules): a busy line is retried soon, a machine or no answer a few hours later,
# a fax or SIT tone (number probably wrong or dead) the next day or later.
DEFAULT_RETRY_DELAYS: Mapping[AttemptOutcome, timedelta] = MappingProxyType(
    {
        _O.CONNECTED: timedelta(hours=24),
        _O.ABANDONED: timedelta(hours=1),  # the 72 h rule is the binding one
        _O.LOST: timedelta(hours=1),
        _O.MACHINE: timedelta(hours=4),
        _O.HUNG_UP_IN_DETECTION: timedelta(hours=1),
        _O.NOT_SURE: timedelta(hours=2),
        _O.FAX: timedelta(days=7),
        _O.SIT: timedelta(hours=24),
        _O.BUSY: timedelta(minutes=15),
        _O.NO_ANSWER: timedelta(hours=2),
        _O.FAILED: timedelta(minutes=30),
        _O.CANCELLED: timedelta(0),
    }
)

# Reg F 12 CFR 1006.14(b)(3)(ii): telephone calls that do not connect to the dialed
# number are excluded from the call-frequency count. A busy signal, a network failure,
# an intercept tone and a dial we cancelled before it went out do not connect.
DEFAULT_UNCONNECTED: frozenset[AttemptOutcome] = frozenset(
    {_O.BUSY, _O.FAILED, _O.SIT, _O.CANCELLED}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactLimits:
    """Per-country limits on *contacts* (dials with a conversation with the debtor), on
    top of the dial caps. ``per_day``: per debtor-local day; ``per_week``: per rolling
    7 x 24 h (the conservative reading of "per week"). 0: no limit."""

    per_day: int = 0
    per_week: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("per_day", "per_week"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")


# Colombia, Ley 2300 de 2023 art. 3: a consumer may not be contacted more than once on the
# same day (nor through several channels in the same week). Chile, Ley 19.496 art. 37 as
# amended by Ley 21.320 (2021): more than one telephone contact or visit per week breaches
# the principles collection must follow. We count conversations as contacts; a stricter
# reading (every dial is a contact) is max_per_lead_per_day = 1 for those campaigns.
DEFAULT_CONTACT_LIMITS: Mapping[str, ContactLimits] = MappingProxyType(
    {
        "CO": ContactLimits(per_day=1, source="Ley 2300 de 2023 art. 3"),
        "CL": ContactLimits(per_week=1, source="Ley 19.496 art. 37 (Ley 21.320)"),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """Tunables of ``ContactPolicy``.

    Calling windows: ``country_windows`` per ISO country (default ``COUNTRY_WINDOWS``),
    ``fallback_windows`` for other countries. ``campaign_mode``: how a campaign's own
    windows combine with the country's: "intersect" (default: a campaign can only
    narrow the legal hours) or "replace" (the campaign's hours are used as they are).

    Caps (dial attempts, counted in the debtor's local day of the phone being dialled):
    ``max_per_phone_per_day``, ``max_per_lead_per_day``. Rolling cap (Reg F 12 CFR
    1006.14(b)(2)(i)(A)): at most ``weekly_cap`` calls in any ``weekly_period`` across
    all of a lead's phones and campaigns; calls whose outcome is in
    ``frequency_excluded`` are not counted (1006.14(b)(3)(ii)). After a conversation,
    no call for ``conversation_quiet_days`` days, the day of the conversation being the
    first (1006.14(b)(2)(i)(B)). ``weekly_cap=0`` disables the rolling cap;
    ``conversation_quiet_days=0`` the conversation rule.

    ``retry_delays``: per outcome of the number's last dial (missing outcomes use
    ``default_retry_delay``). ``lead_min_gap``: minimum time between two dials of the
    same lead on any of its phones (0: a second phone may be tried right away).

    ``abandon_quiet``: after an abandoned call (outcome in ``abandon_outcomes``), no call
    to that number for this long unless a live agent is reserved for it (Ofcom, 72 h).

    ``hold_for_callbacks`` / ``hold_for_promises``: do not call a lead with a callback
    agreed for later, or a payment promised for a date not yet past, before then.
    ``callback_boost`` / ``follow_up_boost``: priority added when one is due.

    ``horizon``: how far ahead next-eligible times are searched (None beyond it).

    ``contact_limits``: per-country limits on conversations (``ContactLimits``), by the
    phone's country (defaults: Colombia 1 a day, Chile 1 a week).
    """

    country_windows: Mapping[str, CallingWindows] = field(default_factory=lambda: COUNTRY_WINDOWS)
    fallback_windows: CallingWindows = FALLBACK_WINDOWS
    campaign_mode: str = "intersect"
    max_per_phone_per_day: int = 3
    max_per_lead_per_day: int = 6
    weekly_cap: int = 7
    weekly_period: timedelta = timedelta(days=7)
    conversation_quiet_days: int = 7
    frequency_excluded: frozenset[AttemptOutcome] = DEFAULT_UNCONNECTED
    uncounted_for_daily_caps: frozenset[AttemptOutcome] = frozenset({_O.CANCELLED})
    retry_delays: Mapping[AttemptOutcome, timedelta] = field(
        default_factory=lambda: DEFAULT_RETRY_DELAYS
    )
    default_retry_delay: timedelta = timedelta(hours=1)
    lead_min_gap: timedelta = timedelta(0)
    abandon_outcomes: frozenset[AttemptOutcome] = frozenset({_O.ABANDONED})
    abandon_quiet: timedelta = timedelta(hours=72)
    hold_for_callbacks: bool = True
    hold_for_promises: bool = True
    callback_boost: float = 100.0
    follow_up_boost: float = 50.0
    horizon: timedelta = timedelta(days=400)
    contact_limits: Mapping[str, ContactLimits] = field(
        default_factory=lambda: DEFAULT_CONTACT_LIMITS
    )

    def __post_init__(self) -> None:
        for key, windows in self.country_windows.items():
            if not (isinstance(key, str) and len(key) == 2 and key.isupper()):
                raise ValueError(f"country_windows: key {key!r} is not an ISO alpha-2 code")
            if not isinstance(windows, CallingWindows):
                raise ValueError(f"country_windows[{key}]: not a CallingWindows value")
        if self.campaign_mode not in ("intersect", "replace"):
            raise ValueError(
                f"campaign_mode: expected 'intersect' or 'replace', got {self.campaign_mode!r}"
            )
        for name in (
            "max_per_phone_per_day",
            "max_per_lead_per_day",
            "weekly_cap",
            "conversation_quiet_days",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")
        for name in ("weekly_period", "default_retry_delay", "lead_min_gap", "abandon_quiet"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(0):
                raise ValueError(f"{name}: must be a non-negative duration, got {value!r}")
        if self.weekly_cap and self.weekly_period <= timedelta(0):
            raise ValueError("weekly_period: must be positive when weekly_cap is set")
        for outcome, delay in self.retry_delays.items():
            if not isinstance(outcome, AttemptOutcome):
                raise ValueError(f"retry_delays: {outcome!r} is not an attempt outcome")
            if not isinstance(delay, timedelta) or delay < timedelta(0):
                raise ValueError(f"retry_delays[{outcome}]: must be a non-negative duration")
        for name in ("callback_boost", "follow_up_boost"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a non-negative number, got {value!r}")
        if not isinstance(self.horizon, timedelta) or self.horizon < timedelta(days=1):
            raise ValueError(f"horizon: must be at least one day, got {self.horizon!r}")

        for key, limits in self.contact_limits.items():
            if not isinstance(limits, ContactLimits):
                raise ValueError(f"contact_limits[{key}]: not a ContactLimits value")

    def windows_for(self, country: str) -> CallingWindows:
        return self.country_windows.get(country, self.fallback_windows)

    def retry_delay(self, outcome: AttemptOutcome) -> timedelta:
        return self.retry_delays.get(outcome, self.default_retry_delay)
