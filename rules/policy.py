"""The contact policy: may we dial this phone of this lead at this moment; if not, why
and when next.

Pure: every answer is a function of the facts, the settings and the moment given.
Each rule returns a ``RuleCheck``; a failed check carries ``until``, the earliest moment
that rule alone could pass (None: never). ``next_eligible`` is the least fixpoint of
those: start at the moment asked, jump to the latest ``until`` among the failed checks,
re-check, repeat. It is exact (no earlier moment passes every rule) because each
``until`` is exact: no moment in ``[now, until)`` passes that rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.ids import AgentId
from rules.explain import explain
from rules.facts import CallbackFact, LeadFacts, PhoneFacts, zone
from rules.follow_ups import FollowUp, follow_up_at, follow_ups, needs_follow_up
from rules.frequency import (
    abandon_quiet,
    contact_limit,
    conversation_quiet,
    daily_cap,
    lead_gap,
    retry_delay,
    weekly_cap,
)
from rules.localtime import local, to_utc
from rules.settings import PolicySettings
from rules.text import fmt
from rules.verdict import RuleCheck, Verdict
from rules.windows import (
    DAY_NAMES,
    CallingWindows,
    closed_reason,
    has_calendar,
    is_open,
    next_open,
)

# Reg F 12 CFR 1006.14(b)(3)(i): calls made with the consumer's prior consent, given
# directly to the collector within the past seven days, are not counted.
CONSENT_VALIDITY = timedelta(days=7)
_MAX_STEPS = 1000  # fixpoint iterations; each moves strictly forward


def _aware(at: datetime, name: str) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name}: must be a timezone-aware datetime, got {at!r}")
    return to_utc(at)


@dataclass(frozen=True, slots=True)
class _Round:
    checks: tuple[RuleCheck, ...]
    boost: float
    due_reason: str | None
    route_to: AgentId | None


class ContactPolicy:
    """One policy for every campaign; per-campaign calling windows are an argument."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings if settings is not None else PolicySettings()

    # -- public -----------------------------------------------------------------------

    def windows_for(
        self, phone: PhoneFacts, campaign_windows: CallingWindows | None = None
    ) -> CallingWindows:
        """The calling windows that apply to ``phone`` (country default, narrowed or
        replaced by the campaign's per ``settings.campaign_mode``)."""
        country = self.settings.windows_for(phone.country)
        if campaign_windows is None:
            return country
        if self.settings.campaign_mode == "replace":
            return campaign_windows
        return country.intersect(campaign_windows)

    def evaluate(
        self,
        lead: LeadFacts,
        phone: PhoneFacts,
        *,
        at: datetime,
        reserved_for: AgentId | None = None,
        campaign_windows: CallingWindows | None = None,
    ) -> Verdict:
        """The verdict for dialling ``phone`` of ``lead`` at ``at`` (tz-aware).

        ``reserved_for``: the call is placed for that agent (progressive), so a live
        agent is guaranteed if the debtor answers.
        """
        t = _aware(at, "at")
        self._check_phone(lead, phone)
        windows = self.windows_for(phone, campaign_windows)
        first = self._round(lead, phone, t, reserved_for, windows)
        allowed = all(c.passed for c in first.checks)
        nxt = (
            t
            if allowed
            else self._search(
                lead, phone, t, first=first, reserved_for=reserved_for, windows=windows
            )
        )
        return Verdict(
            allowed=allowed,
            checks=first.checks,
            next_eligible=nxt,
            priority_boost=first.boost,
            due_reason=first.due_reason,
            route_to=first.route_to,
            at=t,
        )

    def is_allowed(
        self,
        lead: LeadFacts,
        phone: PhoneFacts,
        *,
        at: datetime,
        reserved_for: AgentId | None = None,
        campaign_windows: CallingWindows | None = None,
    ) -> bool:
        """``evaluate(...).allowed`` without working out when a refusal lifts (cheaper:
        for a last check at claim time)."""
        t = _aware(at, "at")
        self._check_phone(lead, phone)
        windows = self.windows_for(phone, campaign_windows)
        round_ = self._round(lead, phone, t, reserved_for, windows, want_until=False)
        return all(c.passed for c in round_.checks)

    def next_eligible(
        self,
        lead: LeadFacts,
        phone: PhoneFacts,
        *,
        after: datetime,
        reserved_for: AgentId | None = None,
        campaign_windows: CallingWindows | None = None,
    ) -> datetime | None:
        """The earliest moment at or after ``after`` (UTC) at which ``evaluate`` allows,
        given the same facts; None if never or beyond ``settings.horizon``."""
        return self.evaluate(
            lead, phone, at=after, reserved_for=reserved_for, campaign_windows=campaign_windows
        ).next_eligible

    def next_eligible_any(
        self,
        lead: LeadFacts,
        *,
        after: datetime,
        reserved_for: AgentId | None = None,
        campaign_windows: CallingWindows | None = None,
    ) -> tuple[PhoneFacts, datetime] | None:
        """The lead's phone that becomes dialable first, and when (ties: phone order)."""
        best: tuple[PhoneFacts, datetime] | None = None
        for phone in lead.phones:
            when = self.next_eligible(
                lead,
                phone,
                after=after,
                reserved_for=reserved_for,
                campaign_windows=campaign_windows,
            )
            if when is not None and (best is None or when < best[1]):
                best = (phone, when)
        return best

    def follow_ups(
        self,
        lead: LeadFacts,
        *,
        at: datetime | None = None,
        tz: ZoneInfo | str | None = None,
    ) -> tuple[FollowUp, ...]:
        """The lead's open callbacks and promises awaiting payment, as dated follow-ups
        (earliest first); with ``at``, only those due by then. ``tz``: the debtor's zone
        for the promise's local date (default: the zone of the lead's first phone)."""
        if tz is None:
            if not lead.phones:
                raise ValueError(f"tz: lead {lead.lead} has no phone to take a time zone from")
            zone_ = zone(lead.phones[0].time_zone)
        else:
            zone_ = zone(tz) if isinstance(tz, str) else tz
        items = follow_ups(lead, zone_)
        if at is None:
            return items
        when = _aware(at, "at")
        return tuple(f for f in items if f.at <= when)

    # -- the fixpoint -----------------------------------------------------------------

    def _search(
        self,
        lead: LeadFacts,
        phone: PhoneFacts,
        t: datetime,
        *,
        first: _Round,
        reserved_for: AgentId | None,
        windows: CallingWindows,
    ) -> datetime | None:
        limit = t + self.settings.horizon
        current, round_ = t, first
        for _ in range(_MAX_STEPS):
            failed = [c for c in round_.checks if not c.passed]
            if not failed:
                return current
            untils = [c.until for c in failed]
            if any(u is None for u in untils):
                return None
            nxt = max(to_utc(u) for u in untils if u is not None)
            if nxt <= current:  # a rule that cannot say when: refuse rather than spin
                return None
            if nxt > limit:
                return None
            current = nxt
            round_ = self._round(lead, phone, current, reserved_for, windows)
        return None

    # -- the rules --------------------------------------------------------------------

    def _check_phone(self, lead: LeadFacts, phone: PhoneFacts) -> None:
        if phone.number not in {p.number for p in lead.phones}:
            raise ValueError(f"phone: {phone.number} is not one of lead {lead.lead}'s phones")

    def _round(
        self,
        lead: LeadFacts,
        phone: PhoneFacts,
        t: datetime,
        reserved_for: AgentId | None,
        windows: CallingWindows,
        *,
        want_until: bool = True,
    ) -> _Round:
        s = self.settings
        tz = zone(phone.time_zone)
        every = sorted(lead.attempts, key=lambda a: to_utc(a.at))
        past = [a for a in every if a.at <= t]
        on_phone = [a for a in past if a.number == phone.number]
        later = [a for a in every if a.at > t]  # only when explaining a past moment

        # Callbacks first: a due one exempts some rules below.
        open_cbs = sorted(lead.callbacks, key=lambda c: to_utc(c.at))
        due_cb = next((c for c in open_cbs if c.at <= t), None)
        next_cb = next((to_utc(c.at) for c in open_cbs if c.at > t), None)
        consent_now = due_cb is not None and _consent_valid(due_cb, t)
        next_consent = next(
            (to_utc(c.at) for c in open_cbs if c.at > t and _consent_valid(c, c.at)), None
        )

        checks: list[RuleCheck] = [
            self._dnc(lead, phone),
            self._window(phone, t, tz, windows, want_until=want_until),
            # Reg F 1006.6(b)(1)(i) and its commentary: when the consumer's location is
            # uncertain (a number whose area spans zones), the call must be convenient in
            # every possible location: one window check per other candidate zone.
            *(
                self._window(
                    phone,
                    t,
                    zone(other),
                    windows,
                    want_until=want_until,
                    rule=f"calling_window[{other}]",
                )
                for other in phone.other_time_zones
            ),
            daily_cap(
                "phone_daily_cap",
                attempts=on_phone,
                cap=s.max_per_phone_per_day,
                uncounted=s.uncounted_for_daily_caps,
                t=t,
                tz=tz,
                what="this number",
            ),
            daily_cap(
                "lead_daily_cap",
                attempts=past,
                cap=s.max_per_lead_per_day,
                uncounted=s.uncounted_for_daily_caps,
                t=t,
                tz=tz,
                what="this lead",
            ),
            _exempt_or(
                weekly_cap(
                    past,
                    t,
                    cap=s.weekly_cap,
                    period=s.weekly_period,
                    excluded=s.frequency_excluded,
                ),
                consent_now,
                next_consent,
                "weekly_cap",
                "Reg F",
            ),
            _exempt_or(
                conversation_quiet(past, t, tz, quiet_days=s.conversation_quiet_days),
                consent_now,
                next_consent,
                "conversation",
                "Reg F",
            ),
            _exempt_or(
                retry_delay(
                    on_phone, [a for a in later if a.number == phone.number], t, s.retry_delay
                ),
                due_cb is not None,
                next_cb,
                "retry_delay",
                "policy",
            ),
            abandon_quiet(
                on_phone, t, reserved_for, outcomes=s.abandon_outcomes, quiet=s.abandon_quiet
            ),
        ]
        limits = s.contact_limits.get(phone.country)
        if limits is not None and (limits.per_day or limits.per_week):
            checks.append(contact_limit(limits, [a for a in past if a.conversation], t, tz))
        if s.lead_min_gap > timedelta(0):
            checks.append(lead_gap(past, later, t, s.lead_min_gap))

        boost = 0.0
        reasons: list[str] = []
        route_to: AgentId | None = None
        if due_cb is not None:
            route_to = due_cb.agent
            if due_cb.agent is not None and reserved_for != due_cb.agent:
                checks.append(
                    RuleCheck(
                        "callback",
                        False,
                        f"callback agreed for {fmt(due_cb.at, tz)} with agent "
                        f"{due_cb.agent}: dial it only reserved for that agent",
                        None,
                    )
                )
            else:
                boost += s.callback_boost
                reasons.append(f"callback due since {fmt(due_cb.at, tz)}")
                checks.append(RuleCheck("callback", True, reasons[-1]))
        elif next_cb is not None and s.hold_for_callbacks:
            checks.append(
                RuleCheck(
                    "callback",
                    False,
                    f"callback agreed for {fmt(next_cb, tz)}: not calling before",
                    next_cb,
                )
            )

        pending = [p for p in lead.promises if needs_follow_up(p)]
        if pending:
            due_at = sorted(follow_up_at(p, tz) for p in pending)
            if due_at[0] <= t:
                boost += s.follow_up_boost
                reasons.append(f"promise follow-up due since {fmt(due_at[0], tz)}")
                checks.append(RuleCheck("promise", True, reasons[-1]))
            elif s.hold_for_promises and due_cb is None:
                lift = due_at[0] if next_cb is None else min(due_at[0], next_cb)
                checks.append(
                    RuleCheck(
                        "promise",
                        False,
                        f"payment promised by {min(p.due for p in pending).isoformat()}: "
                        f"follow-up from {fmt(due_at[0], tz)}",
                        lift,
                    )
                )
        return _Round(tuple(checks), boost, "; ".join(reasons) or None, route_to)

    def _dnc(self, lead: LeadFacts, phone: PhoneFacts) -> RuleCheck:
        if phone.number in lead.dnc:
            return RuleCheck("dnc", False, f"{phone.number} is on a do-not-call list", None)
        return RuleCheck("dnc", True, "not on a do-not-call list")

    def _window(
        self,
        phone: PhoneFacts,
        t: datetime,
        tz: ZoneInfo,
        windows: CallingWindows,
        *,
        want_until: bool = True,
        rule: str = "calling_window",
    ) -> RuleCheck:
        wall = local(t, tz)
        source = windows.source or "campaign windows"
        if phone.country not in self.settings.country_windows and windows is (
            self.settings.fallback_windows
        ):
            source = f"{source}; no default for {phone.country}"
        if windows.closed_on_holidays and not has_calendar(phone.country):
            source = f"{source}; no holiday calendar for {phone.country}"
        hours = windows.describe(wall.weekday())
        if is_open(windows, phone.country, t, tz):
            return RuleCheck(rule, True, f"local time {fmt(t, tz)} is within {hours} ({source})")
        closed = closed_reason(windows, phone.country, wall.date())
        why = closed if closed is not None else f"outside {hours}"
        horizon_days = self.settings.horizon.days + 1
        until = (
            next_open(windows, phone.country, t, tz, horizon_days=horizon_days)
            if want_until
            else None
        )
        return RuleCheck(rule, False, f"local time {fmt(t, tz)}: {why} ({source})", until)


def _consent_valid(cb: CallbackFact, t: datetime) -> bool:
    # In UTC: same-zone aware datetimes compare and add on the wall clock (PEP 495).
    if cb.agreed_at is None:
        return False
    agreed = to_utc(cb.agreed_at)
    return agreed <= to_utc(t) <= agreed + CONSENT_VALIDITY


def _exempt_or(
    check: RuleCheck, exempt_now: bool, exempt_from: datetime | None, rule: str, basis: str
) -> RuleCheck:
    """A due callback (with recent consent, for the Reg F rules) exempts ``check``; a
    future one bounds its ``until`` (the exemption may start before the rule lifts)."""
    if check.passed:
        return check
    if exempt_now:
        why = (
            "callback agreed by the debtor within 7 days (Reg F 1006.14(b)(3)(i))"
            if basis == "Reg F"
            else "callback agreed by the debtor is due"
        )
        return RuleCheck(rule, True, f"exempt: {why}; {check.reason}")
    if exempt_from is not None and check.until is not None and exempt_from < check.until:
        return RuleCheck(rule, False, check.reason, exempt_from)
    return check


__all__ = ["DAY_NAMES", "ContactPolicy", "explain"]
