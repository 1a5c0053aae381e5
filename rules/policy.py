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

from dialer.ids import AgentId, LeadId
from rules.facts import AttemptFact, CallbackFact, LeadFacts, PhoneFacts, zone
from rules.follow_ups import follow_up_at, needs_follow_up
from rules.localtime import local, local_date, start_of_day, to_utc
from rules.settings import PolicySettings
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


def _fmt(at: datetime, tz: ZoneInfo) -> str:
    return f"{local(at, tz):%a %Y-%m-%d %H:%M %Z}"


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
    ) -> _Round:
        s = self.settings
        tz = zone(phone.time_zone)
        past = sorted((a for a in lead.attempts if a.at <= t), key=lambda a: to_utc(a.at))
        on_phone = [a for a in past if a.number == phone.number]

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
            self._window(phone, t, tz, windows),
            self._daily(
                "phone_daily_cap",
                attempts=on_phone,
                cap=s.max_per_phone_per_day,
                t=t,
                tz=tz,
                what="this number",
            ),
            self._daily(
                "lead_daily_cap",
                attempts=past,
                cap=s.max_per_lead_per_day,
                t=t,
                tz=tz,
                what="this lead",
            ),
            _exempt_or(self._weekly(past, t), consent_now, next_consent, "weekly_cap", "Reg F"),
            _exempt_or(
                self._conversation(past, t, tz), consent_now, next_consent, "conversation", "Reg F"
            ),
            _exempt_or(
                self._retry(on_phone, t), due_cb is not None, next_cb, "retry_delay", "policy"
            ),
            self._abandon(on_phone, t, reserved_for),
        ]
        if s.lead_min_gap > timedelta(0):
            checks.append(self._lead_gap(past, t))

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
                        f"callback agreed for {_fmt(due_cb.at, tz)} with agent "
                        f"{due_cb.agent}: dial it only reserved for that agent",
                        None,
                    )
                )
            else:
                boost += s.callback_boost
                reasons.append(f"callback due since {_fmt(due_cb.at, tz)}")
                checks.append(RuleCheck("callback", True, reasons[-1]))
        elif next_cb is not None and s.hold_for_callbacks:
            checks.append(
                RuleCheck(
                    "callback",
                    False,
                    f"callback agreed for {_fmt(next_cb, tz)}: not calling before",
                    next_cb,
                )
            )

        pending = [p for p in lead.promises if needs_follow_up(p)]
        if pending:
            due_at = sorted(follow_up_at(p, tz) for p in pending)
            if due_at[0] <= t:
                boost += s.follow_up_boost
                reasons.append(f"promise follow-up due since {_fmt(due_at[0], tz)}")
                checks.append(RuleCheck("promise", True, reasons[-1]))
            elif s.hold_for_promises and due_cb is None:
                lift = due_at[0] if next_cb is None else min(due_at[0], next_cb)
                checks.append(
                    RuleCheck(
                        "promise",
                        False,
                        f"payment promised by {min(p.due for p in pending).isoformat()}: "
                        f"follow-up from {_fmt(due_at[0], tz)}",
                        lift,
                    )
                )
        return _Round(tuple(checks), boost, "; ".join(reasons) or None, route_to)

    def _dnc(self, lead: LeadFacts, phone: PhoneFacts) -> RuleCheck:
        if phone.number in lead.dnc:
            return RuleCheck("dnc", False, f"{phone.number} is on a do-not-call list", None)
        return RuleCheck("dnc", True, "not on a do-not-call list")

    def _window(
        self, phone: PhoneFacts, t: datetime, tz: ZoneInfo, windows: CallingWindows
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
            return RuleCheck(
                "calling_window", True, f"local time {_fmt(t, tz)} is within {hours} ({source})"
            )
        closed = closed_reason(windows, phone.country, wall.date())
        why = closed if closed is not None else f"outside {hours}"
        horizon_days = self.settings.horizon.days + 1
        until = next_open(windows, phone.country, t, tz, horizon_days=horizon_days)
        return RuleCheck(
            "calling_window", False, f"local time {_fmt(t, tz)}: {why} ({source})", until
        )

    def _daily(
        self,
        rule: str,
        *,
        attempts: list[AttemptFact],
        cap: int,
        t: datetime,
        tz: ZoneInfo,
        what: str,
    ) -> RuleCheck:
        day = local_date(t, tz)
        if cap == 0:
            return RuleCheck(rule, True, "no daily cap configured")
        n = sum(
            1
            for a in attempts
            if a.outcome not in self.settings.uncounted_for_daily_caps
            and local_date(a.at, tz) == day
        )
        text = f"{n} dial(s) to {what} on local day {day.isoformat()} (cap {cap})"
        if n >= cap:
            return RuleCheck(rule, False, text, start_of_day(day + timedelta(days=1), tz))
        return RuleCheck(rule, True, text)

    def _weekly(self, past: list[AttemptFact], t: datetime) -> RuleCheck:
        # Reg F 12 CFR 1006.14(b)(2)(i)(A): more than seven calls within seven
        # consecutive days is presumed harassment, so with seven counted calls in the
        # trailing period the next one (the 8th) is refused. We use a rolling 7 x 24 h
        # period, which counts at least as many calls as any 7-calendar-day reading.
        s = self.settings
        if s.weekly_cap == 0:
            return RuleCheck("weekly_cap", True, "no rolling cap configured")
        start = t - s.weekly_period
        counted = [
            to_utc(a.at)
            for a in past
            if a.outcome not in s.frequency_excluded and to_utc(a.at) > start
        ]
        text = (
            f"{len(counted)} connected-to-number call(s) in the last "
            f"{_days(s.weekly_period)} (cap {s.weekly_cap}, Reg F 1006.14(b)(2)(i)(A))"
        )
        if len(counted) >= s.weekly_cap:
            # The oldest calls drop out one by one; enough must drop to get below the cap.
            lift = counted[len(counted) - s.weekly_cap] + s.weekly_period
            return RuleCheck("weekly_cap", False, text, lift)
        return RuleCheck("weekly_cap", True, text)

    def _conversation(self, past: list[AttemptFact], t: datetime, tz: ZoneInfo) -> RuleCheck:
        # Reg F 12 CFR 1006.14(b)(2)(i)(B): no call within seven consecutive days after a
        # telephone conversation about the debt; "the date of the telephone conversation
        # is the first day of the seven-consecutive-day period". We lift at the later of
        # the start of the 8th local day and 7 x 24 h after the conversation.
        days = self.settings.conversation_quiet_days
        if days == 0:
            return RuleCheck("conversation", True, "no post-conversation quiet period")
        talks = [a for a in past if a.conversation]
        if not talks:
            return RuleCheck("conversation", True, "no conversation in the records")
        last = talks[-1]
        lift = max(
            to_utc(last.at) + timedelta(days=days),
            start_of_day(local_date(last.at, tz) + timedelta(days=days), tz),
        )
        text = f"conversation on {_fmt(last.at, tz)}; quiet for {days} day(s), Reg F"
        if t < lift:
            return RuleCheck("conversation", False, f"{text} until {_fmt(lift, tz)}", lift)
        return RuleCheck("conversation", True, f"{text}: over")

    def _retry(self, on_phone: list[AttemptFact], t: datetime) -> RuleCheck:
        if not on_phone:
            return RuleCheck("retry_delay", True, "no earlier dial of this number")
        last = on_phone[-1]
        delay = self.settings.retry_delay(last.outcome)
        lift = to_utc(last.at) + delay
        text = f"last dial {last.outcome.value}; retry after {_hm(delay)}"
        if t < lift:
            return RuleCheck("retry_delay", False, text, lift)
        return RuleCheck("retry_delay", True, text)

    def _abandon(
        self, on_phone: list[AttemptFact], t: datetime, reserved_for: AgentId | None
    ) -> RuleCheck:
        # Ofcom, statement of policy on persistent misuse (2016), abandoned calls: when a
        # call has been abandoned, a repeat call to that number in the following 72 hours
        # may only be made with the guaranteed presence of a live operator.
        s = self.settings
        abandoned = [a for a in on_phone if a.outcome in s.abandon_outcomes]
        if not abandoned:
            return RuleCheck("abandon_72h", True, "no abandoned call to this number")
        lift = to_utc(abandoned[-1].at) + s.abandon_quiet
        if t >= lift:
            return RuleCheck("abandon_72h", True, f"last abandon over {_hm(s.abandon_quiet)} ago")
        if reserved_for is not None:
            return RuleCheck(
                "abandon_72h",
                True,
                f"abandoned within {_hm(s.abandon_quiet)} but reserved for agent "
                f"{reserved_for} (live agent guaranteed)",
            )
        return RuleCheck(
            "abandon_72h",
            False,
            f"abandoned call within {_hm(s.abandon_quiet)}: only with a reserved agent",
            lift,
        )

    def _lead_gap(self, past: list[AttemptFact], t: datetime) -> RuleCheck:
        gap = self.settings.lead_min_gap
        if not past:
            return RuleCheck("lead_min_gap", True, "no earlier dial of this lead")
        lift = to_utc(past[-1].at) + gap
        if t < lift:
            return RuleCheck("lead_min_gap", False, f"lead dialled less than {_hm(gap)} ago", lift)
        return RuleCheck("lead_min_gap", True, f"lead last dialled over {_hm(gap)} ago")


def _consent_valid(cb: CallbackFact, t: datetime) -> bool:
    return cb.agreed_at is not None and cb.agreed_at <= t <= cb.agreed_at + CONSENT_VALIDITY


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


def _hm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if m else f"{h} h"


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:g} days"


def explain(
    verdict: Verdict,
    *,
    lead: LeadFacts | LeadId,
    phone: PhoneFacts,
    tz: ZoneInfo | str | None = None,
) -> list[str]:
    """Lines for ``dialer leads explain``: the verdict, every rule with pass/fail and
    reason, and the next eligible time in the debtor's local time and in UTC."""
    zone_ = zone(tz) if isinstance(tz, str) else tz if tz is not None else zone(phone.time_zone)
    lead_id = lead.lead if isinstance(lead, LeadFacts) else lead
    when = (
        f" at {_fmt(verdict.at, zone_)} ({to_utc(verdict.at):%Y-%m-%d %H:%M} UTC)"
        if (verdict.at is not None)
        else ""
    )
    lines = [
        f"lead {lead_id}, phone +{phone.number} ({phone.country}, {phone.time_zone})",
        f"verdict{when}: {'ALLOWED' if verdict.allowed else 'REFUSED'}",
    ]
    for c in verdict.checks:
        mark = "pass" if c.passed else "FAIL"
        until = "" if c.passed or c.until is None else f" [until {_fmt(c.until, zone_)}]"
        never = " [never]" if not c.passed and c.until is None else ""
        lines.append(f"  {mark}  {c.rule}: {c.reason}{until}{never}")
    if verdict.due_reason:
        lines.append(f"due: {verdict.due_reason} (priority +{verdict.priority_boost:g})")
    if verdict.route_to is not None:
        lines.append(f"route to agent: {verdict.route_to}")
    ne = verdict.next_eligible
    if ne is None:
        lines.append("next eligible: never (or not within the search horizon)")
    else:
        lines.append(f"next eligible: {_fmt(ne, zone_)} = {to_utc(ne):%Y-%m-%d %H:%M:%S} UTC")
    return lines


__all__ = ["DAY_NAMES", "ContactPolicy", "explain"]
