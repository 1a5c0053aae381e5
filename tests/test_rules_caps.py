"""Dial-frequency rules at the edges: DNC, per-day caps across the local midnight, the
7th and 8th call in 7 days and the post-conversation week (Reg F 12 CFR 1006.14(b)),
retry delays by outcome, and the 72-hour rule after an abandoned call (Ofcom)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome as O
from rules import (
    AttemptFact,
    CallingWindows,
    ContactPolicy,
    LeadFacts,
    PhoneFacts,
    PolicySettings,
    Verdict,
)

NY = ZoneInfo("America/New_York")
A = "12125550100"
B = "12125550199"
PA = PhoneFacts(A, "US", "America/New_York")
PB = PhoneFacts(B, "US", "America/New_York")
AGENT = AgentId("agent-7")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc, arg-type]


def lead(*attempts: AttemptFact, dnc: frozenset[str] = frozenset()) -> LeadFacts:
    return LeadFacts(LeadId("L1"), (PA, PB), tuple(attempts), dnc=dnc)


def dial(at: datetime, outcome: O = O.NO_ANSWER, number: str = A, **kw: bool) -> AttemptFact:
    return AttemptFact(number, at, outcome, **kw)


def check(v: Verdict, rule: str) -> tuple[bool, datetime | None]:
    (c,) = [c for c in v.checks if c.rule == rule]
    return c.passed, c.until


# No retry delay and no daily caps unless a test wants them: isolates the rule under test.
QUIET = PolicySettings(
    retry_delays={o: timedelta(0) for o in O},
    max_per_phone_per_day=0,
    max_per_lead_per_day=0,
)


def test_a_clean_lead_in_hours_is_allowed_and_every_rule_is_reported() -> None:
    v = ContactPolicy().evaluate(lead(), PA, at=ny(2026, 6, 9, 10, 0))
    assert v.allowed
    assert v.next_eligible == ny(2026, 6, 9, 10, 0)
    assert {c.rule for c in v.checks} >= {
        "dnc",
        "calling_window",
        "phone_daily_cap",
        "lead_daily_cap",
        "weekly_cap",
        "conversation",
        "retry_delay",
        "abandon_72h",
    }
    assert all(c.passed for c in v.checks)


def test_dnc_is_never() -> None:
    v = ContactPolicy().evaluate(lead(dnc=frozenset({A})), PA, at=ny(2026, 6, 9, 10, 0))
    assert not v.allowed
    assert v.next_eligible is None
    assert check(v, "dnc") == (False, None)
    # The lead's other number is not on the list.
    assert ContactPolicy().evaluate(lead(dnc=frozenset({A})), PB, at=ny(2026, 6, 9, 10)).allowed


def test_a_phone_of_another_lead_is_an_error() -> None:
    other = PhoneFacts("15125550100", "US", "America/Chicago")
    with pytest.raises(ValueError, match="not one of lead L1's phones"):
        ContactPolicy().evaluate(lead(), other, at=ny(2026, 6, 9, 10))


def test_naive_moment_is_an_error() -> None:
    with pytest.raises(ValueError, match="at: must be a timezone-aware"):
        ContactPolicy().evaluate(lead(), PA, at=datetime(2026, 6, 9, 10))


# -- per-day caps ---------------------------------------------------------------------


def test_phone_daily_cap_lifts_at_the_local_midnight() -> None:
    s = PolicySettings(retry_delays={o: timedelta(0) for o in O}, max_per_phone_per_day=2)
    facts = lead(dial(ny(2026, 6, 9, 9, 0)), dial(ny(2026, 6, 9, 12, 0)))
    p = ContactPolicy(s)
    v = p.evaluate(facts, PA, at=ny(2026, 6, 9, 20, 59))
    assert check(v, "phone_daily_cap") == (False, ny(2026, 6, 10, 0, 0))
    # Midnight lifts the cap but the window opens at 08:00.
    assert v.next_eligible == ny(2026, 6, 10, 8, 0)
    # The other number of the lead is not capped by this number's dials.
    assert p.evaluate(facts, PB, at=ny(2026, 6, 9, 20, 59)).allowed


def test_daily_cap_counts_the_debtors_local_day_not_utc() -> None:
    # 20:30 EDT on June 9 is 00:30 UTC on June 10; both dials are on the debtor's June 9.
    s = PolicySettings(retry_delays={o: timedelta(0) for o in O}, max_per_phone_per_day=2)
    facts = lead(dial(ny(2026, 6, 9, 10, 0)), dial(ny(2026, 6, 9, 20, 30)))
    v = ContactPolicy(s).evaluate(facts, PA, at=ny(2026, 6, 9, 20, 45))
    assert not v.allowed
    assert check(v, "phone_daily_cap")[0] is False
    # The next local day starts fresh even though, in UTC, it is the same date.
    assert ContactPolicy(s).evaluate(facts, PA, at=ny(2026, 6, 10, 8, 0)).allowed


def test_lead_daily_cap_counts_every_phone() -> None:
    s = PolicySettings(
        retry_delays={o: timedelta(0) for o in O}, max_per_phone_per_day=0, max_per_lead_per_day=2
    )
    facts = lead(dial(ny(2026, 6, 9, 9, 0), number=A), dial(ny(2026, 6, 9, 9, 5), number=B))
    v = ContactPolicy(s).evaluate(facts, PA, at=ny(2026, 6, 9, 9, 10))
    assert check(v, "lead_daily_cap") == (False, ny(2026, 6, 10, 0, 0))


def test_cancelled_dials_are_not_counted_by_daily_caps() -> None:
    s = PolicySettings(retry_delays={o: timedelta(0) for o in O}, max_per_phone_per_day=1)
    facts = lead(dial(ny(2026, 6, 9, 9, 0), O.CANCELLED))
    assert ContactPolicy(s).evaluate(facts, PA, at=ny(2026, 6, 9, 9, 1)).allowed


# -- Reg F: 7 calls in 7 days, and the week after a conversation ------------------------


def seven_calls(start: datetime, outcome: O = O.NO_ANSWER) -> list[AttemptFact]:
    # One call a day at 10:00, across both phones (the cap is per debt, not per number).
    return [dial(start + timedelta(days=i), outcome, number=A if i % 2 else B) for i in range(7)]


def test_the_7th_call_in_7_days_is_allowed_and_the_8th_is_refused() -> None:
    calls = seven_calls(ny(2026, 6, 1, 10, 0))  # June 1..7 at 10:00
    p = ContactPolicy(QUIET)
    # Before the 7th call: six counted, the 7th may go.
    v7 = p.evaluate(lead(*calls[:6]), PA, at=ny(2026, 6, 7, 10, 0))
    assert v7.allowed
    # After it: seven counted in the trailing 7 days, the 8th is refused...
    v8 = p.evaluate(lead(*calls), PA, at=ny(2026, 6, 7, 15, 0))
    assert not v8.allowed
    # ...until the first of the seven is 7 x 24 h old: June 8 10:00.
    assert check(v8, "weekly_cap") == (False, ny(2026, 6, 8, 10, 0))
    assert v8.next_eligible == ny(2026, 6, 8, 10, 0)
    assert p.evaluate(lead(*calls), PA, at=ny(2026, 6, 8, 9, 59, 59)).allowed is False
    assert p.evaluate(lead(*calls), PA, at=ny(2026, 6, 8, 10, 0)).allowed


def test_rolling_cap_lifts_when_enough_calls_age_out() -> None:
    # Nine calls (an earlier policy let too many through): two must age out, so the cap
    # lifts when the 3rd oldest is 7 days old.
    calls = [dial(ny(2026, 6, 1, 9, 0) + timedelta(hours=2 * i)) for i in range(9)]
    v = ContactPolicy(QUIET).evaluate(lead(*calls), PA, at=ny(2026, 6, 2, 12, 0))
    assert check(v, "weekly_cap") == (False, ny(2026, 6, 8, 13, 0))


def test_calls_that_do_not_connect_are_not_counted() -> None:
    # Reg F 1006.14(b)(3)(ii): busy and failed dials do not count toward the seven.
    calls = seven_calls(ny(2026, 6, 1, 10, 0), O.BUSY)
    assert ContactPolicy(QUIET).evaluate(lead(*calls), PA, at=ny(2026, 6, 7, 15)).allowed


def test_no_call_for_seven_days_after_a_conversation() -> None:
    talk = dial(ny(2026, 6, 9, 11, 0), O.CONNECTED, conversation=True)
    p = ContactPolicy(QUIET)
    v = p.evaluate(lead(talk), PB, at=ny(2026, 6, 9, 15, 0))  # any phone of the lead
    assert not v.allowed
    # Day 1 is June 9; calls allowed again on day 8 (June 16), and not before 7 x 24 h.
    assert check(v, "conversation") == (False, ny(2026, 6, 16, 11, 0))
    assert v.next_eligible == ny(2026, 6, 16, 11, 0)
    assert not p.evaluate(lead(talk), PA, at=ny(2026, 6, 15, 20, 0)).allowed
    assert p.evaluate(lead(talk), PA, at=ny(2026, 6, 16, 11, 0)).allowed


def test_rules_can_be_switched_off() -> None:
    s = PolicySettings(
        retry_delays={o: timedelta(0) for o in O},
        weekly_cap=0,
        conversation_quiet_days=0,
        max_per_phone_per_day=0,
        max_per_lead_per_day=0,
    )
    calls = [*seven_calls(ny(2026, 6, 1, 10, 0)), dial(ny(2026, 6, 7, 11), conversation=True)]
    assert ContactPolicy(s).evaluate(lead(*calls), PA, at=ny(2026, 6, 7, 15)).allowed


# -- retry delays ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "delay"),
    [
        (O.BUSY, timedelta(minutes=15)),
        (O.NO_ANSWER, timedelta(hours=2)),
        (O.MACHINE, timedelta(hours=4)),
        (O.FAILED, timedelta(minutes=30)),
    ],
)
def test_default_retry_delay_by_outcome(outcome: O, delay: timedelta) -> None:
    last = ny(2026, 6, 9, 10, 0)
    v = ContactPolicy().evaluate(lead(dial(last, outcome)), PA, at=last + timedelta(minutes=1))
    assert check(v, "retry_delay") == (False, last + delay)
    assert v.next_eligible == last + delay


def test_retry_delay_is_per_number_and_configurable() -> None:
    last = ny(2026, 6, 9, 10, 0)
    s = PolicySettings(retry_delays={O.NO_ANSWER: timedelta(minutes=45)})
    facts = lead(dial(last, O.NO_ANSWER))
    v = ContactPolicy(s).evaluate(facts, PA, at=last)
    assert v.next_eligible == last + timedelta(minutes=45)
    assert ContactPolicy(s).evaluate(facts, PB, at=last).allowed  # the other phone


def test_lead_min_gap_spaces_dials_across_phones() -> None:
    last = ny(2026, 6, 9, 10, 0)
    s = PolicySettings(lead_min_gap=timedelta(minutes=20))
    v = ContactPolicy(s).evaluate(lead(dial(last)), PB, at=last + timedelta(minutes=5))
    assert check(v, "lead_min_gap") == (False, last + timedelta(minutes=20))


def test_retry_delay_pushed_past_the_window_lands_on_the_next_opening() -> None:
    last = ny(2026, 6, 9, 20, 0)  # machine at 20:00: retry at 00:00, window opens 08:00
    v = ContactPolicy().evaluate(lead(dial(last, O.MACHINE)), PA, at=last)
    assert v.next_eligible == ny(2026, 6, 10, 8, 0)


# -- the 72-hour rule after an abandoned call -----------------------------------------


def test_abandoned_number_waits_72_hours_unless_reserved() -> None:
    gone = ny(2026, 6, 9, 10, 0)
    facts = lead(dial(gone, O.ABANDONED))
    p = ContactPolicy(QUIET)
    v = p.evaluate(facts, PA, at=gone + timedelta(hours=5))
    assert check(v, "abandon_72h") == (False, gone + timedelta(hours=72))
    assert v.next_eligible == ny(2026, 6, 12, 10, 0)
    assert not p.evaluate(facts, PA, at=gone + timedelta(hours=71, minutes=59)).allowed
    assert p.evaluate(facts, PA, at=gone + timedelta(hours=72)).allowed
    # Reserved for an agent (progressive): a live agent is guaranteed, so allowed now.
    r = p.evaluate(facts, PA, at=gone + timedelta(hours=5), reserved_for=AGENT)
    assert r.allowed and check(r, "abandon_72h") == (True, None)
    # Another number of the lead is not affected.
    assert p.evaluate(facts, PB, at=gone + timedelta(hours=5)).allowed


def test_72_hours_are_absolute_across_a_dst_change() -> None:
    # Abandoned Saturday 2026-10-31 10:00 EDT; 72 h later is Tuesday 09:00 EST.
    gone = ny(2026, 10, 31, 10, 0)
    v = ContactPolicy(QUIET).evaluate(lead(dial(gone, O.ABANDONED)), PA, at=gone)
    assert v.next_eligible == datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    assert v.next_eligible.astimezone(NY).hour == 9


def test_attempts_after_the_moment_are_ignored() -> None:
    # Explaining a past moment: a later dial must not count.
    later = dial(ny(2026, 6, 9, 12, 0), O.ABANDONED)
    assert ContactPolicy(QUIET).evaluate(lead(later), PA, at=ny(2026, 6, 9, 11, 0)).allowed


# -- per-country contact limits (Colombia: once a day; Chile: once a week) -------------

BOG = ZoneInfo("America/Bogota")
SCL = ZoneInfo("America/Santiago")
CO_PHONE = PhoneFacts("573001234567", "CO", "America/Bogota")
CL_PHONE = PhoneFacts("56912345678", "CL", "America/Santiago")
NO_REG_F = PolicySettings(
    retry_delays={o: timedelta(0) for o in O},
    conversation_quiet_days=0,
    max_per_phone_per_day=0,
    max_per_lead_per_day=0,
)


def test_colombia_one_contact_a_day() -> None:
    talk = AttemptFact(
        CO_PHONE.number, datetime(2026, 6, 9, 9, 0, tzinfo=BOG), O.CONNECTED, conversation=True
    )
    facts = LeadFacts(LeadId("C"), (CO_PHONE,), (talk,))
    v = ContactPolicy(NO_REG_F).evaluate(facts, CO_PHONE, at=datetime(2026, 6, 9, 15, tzinfo=BOG))
    assert check(v, "contact_limit") == (False, datetime(2026, 6, 10, 0, 0, tzinfo=BOG))
    assert v.next_eligible == datetime(2026, 6, 10, 7, 0, tzinfo=BOG)
    # Unanswered dials are not contacts.
    tries = tuple(
        AttemptFact(CO_PHONE.number, datetime(2026, 6, 9, h, tzinfo=BOG), O.NO_ANSWER)
        for h in (8, 9, 10)
    )
    facts = LeadFacts(LeadId("C"), (CO_PHONE,), tries)
    assert ContactPolicy(NO_REG_F).is_allowed(
        facts, CO_PHONE, at=datetime(2026, 6, 9, 11, tzinfo=BOG)
    )


def test_chile_one_contact_a_week() -> None:
    talk = AttemptFact(
        CL_PHONE.number, datetime(2026, 6, 9, 10, 0, tzinfo=SCL), O.CONNECTED, conversation=True
    )
    facts = LeadFacts(LeadId("C"), (CL_PHONE,), (talk,))
    v = ContactPolicy(NO_REG_F).evaluate(facts, CL_PHONE, at=datetime(2026, 6, 12, 10, tzinfo=SCL))
    assert check(v, "contact_limit") == (False, datetime(2026, 6, 16, 10, 0, tzinfo=SCL))
    assert v.next_eligible == datetime(2026, 6, 16, 10, 0, tzinfo=SCL)


def test_countries_without_contact_limits_have_no_such_check() -> None:
    v = ContactPolicy().evaluate(lead(), PA, at=ny(2026, 6, 9, 10))
    assert "contact_limit" not in {c.rule for c in v.checks}


def test_daily_cap_on_the_25_hour_fall_back_day() -> None:
    # 2026-11-01 in New York has 25 hours; 01:30 happens twice. Dials at 01:30 EDT and
    # 01:30 EST are both on the debtor's November 1; the cap lifts at midnight EST.
    s = PolicySettings(retry_delays={o: timedelta(0) for o in O}, max_per_phone_per_day=2)
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    facts = lead(dial(first), dial(second))
    v = ContactPolicy(s).evaluate(facts, PA, at=ny(2026, 11, 1, 12, 0))
    assert check(v, "phone_daily_cap") == (False, datetime(2026, 11, 2, 5, 0, tzinfo=UTC))
    assert v.next_eligible == ny(2026, 11, 2, 8, 0)


def test_next_eligible_skips_a_colombian_festivo_and_the_sunday() -> None:
    # No answer on Saturday 2026-01-10 at 14:50 (2 h retry: 16:50, after Saturday's 15:00
    # close); Sunday closed; Monday 01-12 is a festivo; so Tuesday 07:00.
    co = PhoneFacts("573001234567", "CO", "America/Bogota")
    bog = ZoneInfo("America/Bogota")
    tried = AttemptFact(co.number, datetime(2026, 1, 10, 14, 50, tzinfo=bog), O.NO_ANSWER)
    facts = LeadFacts(LeadId("C"), (co,), (tried,))
    v = ContactPolicy().evaluate(facts, co, at=datetime(2026, 1, 10, 14, 55, tzinfo=bog))
    assert v.next_eligible == datetime(2026, 1, 13, 7, 0, tzinfo=bog)
    assert any(c.rule == "retry_delay" and not c.passed for c in v.checks)


def test_fold_is_respected_in_the_repeated_hour() -> None:
    # Python compares two datetimes of the same zone by wall clock, ignoring fold; the
    # policy compares instants. 01:30 EST (second pass, fold=1) is after 01:45 EDT.
    later = datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=1)
    at = datetime(2026, 11, 1, 1, 45, tzinfo=NY)
    s = PolicySettings(country_windows={"US": CallingWindows.weekly({6: [("00:00", "23:00")]})})
    facts = lead(dial(later, O.ABANDONED))
    assert ContactPolicy(s).evaluate(facts, PA, at=at).allowed
    # From the moment it happens, the 72 h rule binds.
    assert not ContactPolicy(s).evaluate(facts, PA, at=later).allowed
