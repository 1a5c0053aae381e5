"""What the contact policy is told about a lead: plain, frozen values.

The store builds these from its rows; the policy never reads a database or a clock.
Every datetime is tz-aware (checked here, so that a naive value is refused at the
edge with the field named, instead of producing a wrong verdict later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome

PROMISE_STATUSES = frozenset({"pending", "kept", "broken"})


def _require_aware(owner: str, name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{owner}.{name}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{owner}.{name}: must be timezone-aware (got naive {value!r})")


def zone(key: str) -> ZoneInfo:
    """The IANA zone ``key``; ValueError naming it if the tz database does not know it."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {key!r}") from exc


@dataclass(frozen=True, slots=True)
class PhoneFacts:
    """One phone of a lead."""

    number: str  # E.164 digits, no '+'
    country: str  # ISO 3166-1 alpha-2, e.g. "MX"
    time_zone: str  # IANA, e.g. "America/Monterrey"
    # Other zones the debtor may be in (a number whose area spans zones); calls must fit
    # the windows in all of them. Day counts use ``time_zone``.
    other_time_zones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # E.164: at most 15 digits, country code first (ITU-T E.164 section 6).
        if not (self.number.isascii() and self.number.isdigit() and 1 <= len(self.number) <= 15):
            raise ValueError(f"PhoneFacts.number: not E.164 digits: {self.number!r}")
        if not (len(self.country) == 2 and self.country.isascii() and self.country.isupper()):
            raise ValueError(
                f"PhoneFacts.country: expected ISO 3166-1 alpha-2 such as 'MX', "
                f"got {self.country!r}"
            )
        try:
            zone(self.time_zone)
        except ValueError as exc:
            raise ValueError(f"PhoneFacts.time_zone: {exc}") from None
        if not isinstance(self.other_time_zones, tuple):
            raise ValueError("PhoneFacts.other_time_zones: expected a tuple of IANA zone names")
        for other in self.other_time_zones:
            try:
                zone(other)
            except ValueError as exc:
                raise ValueError(f"PhoneFacts.other_time_zones: {exc}") from None

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)


@dataclass(frozen=True, slots=True)
class AttemptFact:
    """One past dial of this lead (any phone, any campaign)."""

    number: str
    at: datetime  # tz-aware; when the dial was placed
    outcome: AttemptOutcome
    conversation: bool = False  # a conversation with the debtor took place (Reg F)
    reserved: bool = False  # placed for a given agent (progressive)

    def __post_init__(self) -> None:
        _require_aware("AttemptFact", "at", self.at)
        if not isinstance(self.outcome, AttemptOutcome):
            raise ValueError(f"AttemptFact.outcome: not an AttemptOutcome: {self.outcome!r}")


@dataclass(frozen=True, slots=True)
class PromiseFact:
    """A promise to pay ``amount`` by the local date ``due``."""

    amount: Decimal
    due: date
    status: str  # "pending" | "kept" | "broken"
    paid: bool = False  # a payment was recorded

    def __post_init__(self) -> None:
        if self.status not in PROMISE_STATUSES:
            raise ValueError(
                f"PromiseFact.status: expected one of {sorted(PROMISE_STATUSES)}, "
                f"got {self.status!r}"
            )
        if isinstance(self.due, datetime) or not isinstance(self.due, date):
            raise ValueError(f"PromiseFact.due: expected a date, got {self.due!r}")


@dataclass(frozen=True, slots=True)
class CallbackFact:
    """A callback the debtor agreed to, not yet completed.

    ``agent`` set: the call goes to that agent only. ``agreed_at`` (when known) is when
    the debtor gave the consent; Reg F 12 CFR 1006.14(b)(3)(i) excludes calls made with
    consent given in the past seven days from the call-frequency presumption.
    """

    at: datetime
    agent: AgentId | None = None
    agreed_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("CallbackFact", "at", self.at)
        if self.agreed_at is not None:
            _require_aware("CallbackFact", "agreed_at", self.agreed_at)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """Everything the policy needs about one lead (one debt, in Reg F terms)."""

    lead: LeadId
    phones: tuple[PhoneFacts, ...]
    attempts: tuple[AttemptFact, ...]  # at least the last 8 days, any order
    dnc: frozenset[str] = frozenset()  # which of the lead's numbers are on a DNC list now
    promises: tuple[PromiseFact, ...] = ()
    callbacks: tuple[CallbackFact, ...] = ()  # open (not yet completed) callbacks
