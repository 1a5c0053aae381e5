"""``explain``: a verdict as lines for ``dialer leads explain``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from dialer.ids import LeadId
from rules.facts import LeadFacts, PhoneFacts, zone
from rules.localtime import to_utc
from rules.text import fmt
from rules.verdict import Verdict


def explain(
    verdict: Verdict,
    *,
    lead: LeadFacts | LeadId,
    phone: PhoneFacts,
    tz: ZoneInfo | str | None = None,
) -> list[str]:
    """The verdict, every rule with pass/fail and reason (and, for a failed rule, when it
    lifts), and the next eligible time in the debtor's local time and in UTC. ``tz``:
    the zone to show local times in (default: the phone's)."""
    zone_ = zone(tz) if isinstance(tz, str) else tz if tz is not None else zone(phone.time_zone)
    lead_id = lead.lead if isinstance(lead, LeadFacts) else lead
    when = (
        f" at {fmt(verdict.at, zone_)} ({to_utc(verdict.at):%Y-%m-%d %H:%M} UTC)"
        if verdict.at is not None
        else ""
    )
    lines = [
        f"lead {lead_id}, phone +{phone.number} ({phone.country}, {phone.time_zone})",
        f"verdict{when}: {'ALLOWED' if verdict.allowed else 'REFUSED'}",
    ]
    for c in verdict.checks:
        mark = "pass" if c.passed else "FAIL"
        until = "" if c.passed or c.until is None else f" [until {fmt(c.until, zone_)}]"
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
        lines.append(f"next eligible: {fmt(ne, zone_)} = {to_utc(ne):%Y-%m-%d %H:%M:%S} UTC")
    return lines
