"""The rules about how often and how soon a lead may be dialled.

Each function answers one rule at instant ``t`` (UTC) from the dials made at or before
it (``past``, oldest first) and, for a failed check, the exact earliest moment that rule
alone passes (``RuleCheck.until``): the fixpoint in ``policy.py`` relies on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.ids import AgentId
from dialer.leads import AttemptOutcome
from rules.facts import AttemptFact
from rules.localtime import local_date, start_of_day, to_utc
from rules.settings import ContactLimits
from rules.text import days as fmt_days
from rules.text import fmt, hm
from rules.verdict import RuleCheck


def daily_cap(
    rule: str,
    *,
    attempts: list[AttemptFact],
    cap: int,
    uncounted: frozenset[AttemptOutcome],
    t: datetime,
    tz: ZoneInfo,
    what: str,
) -> RuleCheck:
    """At most ``cap`` dials per debtor-local day; lifts at the next local midnight."""
    if cap == 0:
        return RuleCheck(rule, True, "no daily cap configured")
    day = local_date(t, tz)
    n = sum(1 for a in attempts if a.outcome not in uncounted and local_date(a.at, tz) == day)
    text = f"{n} dial(s) to {what} on local day {day.isoformat()} (cap {cap})"
    if n >= cap:
        return RuleCheck(rule, False, text, start_of_day(day + timedelta(days=1), tz))
    return RuleCheck(rule, True, text)


def weekly_cap(
    past: list[AttemptFact],
    t: datetime,
    *,
    cap: int,
    period: timedelta,
    excluded: frozenset[AttemptOutcome],
) -> RuleCheck:
    # Reg F 12 CFR 1006.14(b)(2)(i)(A): more than seven calls within seven consecutive
    # days is presumed harassment, so with seven counted calls in the trailing period the
    # next one (the 8th) is refused. We use a rolling 7 x 24 h period, which counts at
    # least as many calls as any 7-calendar-day reading. Calls that do not connect to the
    # dialed number are not counted (1006.14(b)(3)(ii)): ``excluded``.
    if cap == 0:
        return RuleCheck("weekly_cap", True, "no rolling cap configured")
    start = t - period
    counted = [to_utc(a.at) for a in past if a.outcome not in excluded and to_utc(a.at) > start]
    text = (
        f"{len(counted)} connected-to-number call(s) in the last "
        f"{fmt_days(period)} (cap {cap}, Reg F 1006.14(b)(2)(i)(A))"
    )
    if len(counted) >= cap:
        # The oldest calls drop out one by one; enough must drop to get below the cap.
        return RuleCheck("weekly_cap", False, text, counted[len(counted) - cap] + period)
    return RuleCheck("weekly_cap", True, text)


def conversation_quiet(
    past: list[AttemptFact], t: datetime, tz: ZoneInfo, *, quiet_days: int
) -> RuleCheck:
    # Reg F 12 CFR 1006.14(b)(2)(i)(B): no call within seven consecutive days after a
    # telephone conversation about the debt; "the date of the telephone conversation is
    # the first day of the seven-consecutive-day period". We lift at the later of the
    # start of the 8th local day and 7 x 24 h after the conversation.
    if quiet_days == 0:
        return RuleCheck("conversation", True, "no post-conversation quiet period")
    talks = [a for a in past if a.conversation]
    if not talks:
        return RuleCheck("conversation", True, "no conversation in the records")
    last = talks[-1]
    lift = max(
        to_utc(last.at) + timedelta(days=quiet_days),
        start_of_day(local_date(last.at, tz) + timedelta(days=quiet_days), tz),
    )
    text = f"conversation on {fmt(last.at, tz)}; quiet for {quiet_days} day(s), Reg F"
    if t < lift:
        return RuleCheck("conversation", False, f"{text} until {fmt(lift, tz)}", lift)
    return RuleCheck("conversation", True, f"{text}: over")


def contact_limit(
    limits: ContactLimits, talks: list[AttemptFact], t: datetime, tz: ZoneInfo
) -> RuleCheck:
    """Conversations per local day / rolling week, for countries that limit contacts."""
    rule, source = "contact_limit", limits.source or "country contact limit"
    lifts: list[datetime] = []
    parts: list[str] = []
    if limits.per_day:
        day = local_date(t, tz)
        n = sum(1 for a in talks if local_date(a.at, tz) == day)
        parts.append(f"{n} conversation(s) today (max {limits.per_day})")
        if n >= limits.per_day:
            lifts.append(start_of_day(day + timedelta(days=1), tz))
    if limits.per_week:
        week = [to_utc(a.at) for a in talks if to_utc(a.at) > t - timedelta(days=7)]
        parts.append(f"{len(week)} in the last 7 days (max {limits.per_week})")
        if len(week) >= limits.per_week:
            lifts.append(week[len(week) - limits.per_week] + timedelta(days=7))
    text = f"{', '.join(parts)} ({source})"
    if lifts:
        # Both parts must pass; neither lifts before its own moment.
        return RuleCheck(rule, False, text, max(lifts))
    return RuleCheck(rule, True, text)


def retry_delay(
    on_phone: list[AttemptFact],
    later: list[AttemptFact],
    t: datetime,
    delay_of: Callable[[AttemptOutcome], timedelta],
) -> RuleCheck:
    """Wait ``delay_of(outcome)`` after the number's last dial. ``later``: this number's
    dials after ``t`` (only when explaining a past moment)."""
    if not on_phone:
        return RuleCheck("retry_delay", True, "no earlier dial of this number")
    last = on_phone[-1]
    delay = delay_of(last.outcome)
    text = f"last dial {last.outcome.value}; retry after {hm(delay)}"
    lift = lift_by_last(last, later, lambda a: delay_of(a.outcome))
    if t < lift:
        return RuleCheck("retry_delay", False, text, lift)
    return RuleCheck("retry_delay", True, text)


def abandon_quiet(
    on_phone: list[AttemptFact],
    t: datetime,
    reserved_for: AgentId | None,
    *,
    outcomes: frozenset[AttemptOutcome],
    quiet: timedelta,
) -> RuleCheck:
    # Ofcom, statement of policy on persistent misuse (2016), abandoned calls: when a
    # call has been abandoned, a repeat call to that number in the following 72 hours may
    # only be made with the guaranteed presence of a live operator.
    abandoned = [a for a in on_phone if a.outcome in outcomes]
    if not abandoned:
        return RuleCheck("abandon_72h", True, "no abandoned call to this number")
    lift = to_utc(abandoned[-1].at) + quiet
    if t >= lift:
        return RuleCheck("abandon_72h", True, f"last abandon over {hm(quiet)} ago")
    if reserved_for is not None:
        return RuleCheck(
            "abandon_72h",
            True,
            f"abandoned within {hm(quiet)} but reserved for agent {reserved_for} "
            "(live agent guaranteed)",
        )
    return RuleCheck(
        "abandon_72h", False, f"abandoned call within {hm(quiet)}: only with a reserved agent", lift
    )


def lead_gap(
    past: list[AttemptFact], later: list[AttemptFact], t: datetime, gap: timedelta
) -> RuleCheck:
    """At least ``gap`` between two dials of the lead, on any of its numbers."""
    if not past:
        return RuleCheck("lead_min_gap", True, "no earlier dial of this lead")
    lift = lift_by_last(past[-1], later, lambda _a: gap)
    if t < lift:
        return RuleCheck("lead_min_gap", False, f"lead dialled less than {hm(gap)} ago", lift)
    return RuleCheck("lead_min_gap", True, f"lead last dialled over {hm(gap)} ago")


def lift_by_last(
    last: AttemptFact, later: list[AttemptFact], delay: Callable[[AttemptFact], timedelta]
) -> datetime:
    """When a rule keyed on the *last* dial (retry delay, lead gap) first passes.

    Normally ``last.at + delay(last)``. When explaining a past moment, dials recorded
    after it replace ``last`` as time moves on (possibly with a shorter delay), so the
    rule may pass earlier; walk them in order to keep ``until`` exact.
    """
    lift = to_utc(last.at) + delay(last)
    for a in later:
        if lift <= to_utc(a.at):
            break
        lift = to_utc(a.at) + delay(a)
    return lift
