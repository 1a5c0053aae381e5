"""Calling windows at the edges: the 21:00 boundary, DST (US spring forward and fall
back, Mexico without DST since 2022, Chile's change at midnight), holidays (Colombian
festivos ban calls, a US federal holiday does not), next opening across nights,
weekends and holidays. Synchronous, explicit instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.ids import LeadId
from rules import ContactPolicy, LeadFacts, PhoneFacts
from rules.localtime import start_of_day, transitions_on, wall_to_instant
from rules.windows import (
    COUNTRY_WINDOWS,
    FALLBACK_WINDOWS,
    CallingWindows,
    holiday_name,
    is_open,
    next_open,
)

NY = ZoneInfo("America/New_York")
MTY = ZoneInfo("America/Monterrey")
BOG = ZoneInfo("America/Bogota")
SCL = ZoneInfo("America/Santiago")
US = COUNTRY_WINDOWS["US"]
CO = COUNTRY_WINDOWS["CO"]
MX = COUNTRY_WINDOWS["MX"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def wall(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc, arg-type]


def nxt(windows: CallingWindows, country: str, after: datetime, tz: ZoneInfo) -> datetime | None:
    return next_open(windows, country, after, tz, horizon_days=30)


# -- the half-open window -------------------------------------------------------------


def test_us_window_ends_at_21_00_exactly() -> None:
    # A Tuesday in June (EDT).
    assert is_open(US, "US", wall(NY, 2026, 6, 9, 20, 59, 59), NY)
    assert not is_open(US, "US", wall(NY, 2026, 6, 9, 21, 0, 0), NY)
    assert not is_open(US, "US", wall(NY, 2026, 6, 9, 7, 59, 59), NY)
    assert is_open(US, "US", wall(NY, 2026, 6, 9, 8, 0, 0), NY)


def test_next_open_after_21_00_is_08_00_next_morning_local() -> None:
    got = nxt(US, "US", wall(NY, 2026, 6, 9, 21, 0), NY)
    assert got == wall(NY, 2026, 6, 10, 8, 0)
    assert got is not None and got.tzinfo is UTC
    assert got == utc(2026, 6, 10, 12, 0)


def test_next_open_inside_window_is_now() -> None:
    at = wall(NY, 2026, 6, 9, 12, 34, 56)
    assert nxt(US, "US", at, NY) == at


def test_window_uses_the_debtors_zone_not_the_callers() -> None:
    # 02:30 UTC on a June Wednesday: 22:30 Tuesday in New York (closed), 20:30 in
    # Monterrey (UTC-6, open until 22:00 on weekdays).
    at = utc(2026, 6, 10, 2, 30)
    assert not is_open(US, "US", at, NY)
    assert is_open(MX, "MX", at, MTY)


# -- DST ------------------------------------------------------------------------------


def test_spring_forward_next_open_is_08_00_edt() -> None:
    # US DST starts Sunday 2026-03-08 at 02:00 EST -> 03:00 EDT.
    after = wall(NY, 2026, 3, 7, 21, 30)  # Saturday night, EST
    got = nxt(US, "US", after, NY)
    assert got == utc(2026, 3, 8, 12, 0)  # 08:00 EDT (UTC-4), not 13:00 UTC
    assert got is not None and got.astimezone(NY).hour == 8


def test_fall_back_next_open_is_08_00_est() -> None:
    # US DST ends Sunday 2026-11-01 at 02:00 EDT -> 01:00 EST.
    after = wall(NY, 2026, 10, 31, 22, 0)
    got = nxt(US, "US", after, NY)
    assert got == utc(2026, 11, 1, 13, 0)  # 08:00 EST (UTC-5)


def test_fall_back_day_window_closes_at_21_00_est() -> None:
    assert is_open(US, "US", utc(2026, 11, 2, 1, 59), NY)  # 20:59 EST Nov 1
    assert not is_open(US, "US", utc(2026, 11, 2, 2, 0), NY)  # 21:00 EST


def test_window_starting_in_the_spring_forward_gap_opens_at_the_transition() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; the clock first reads 02:30 or
    # later at 03:00 EDT = 07:00 UTC.
    night = CallingWindows.weekly({"sun": [("02:30", "04:00")]})
    assert wall_to_instant(date(2026, 3, 8), time(2, 30), NY) == utc(2026, 3, 8, 7, 0)
    assert nxt(night, "US", utc(2026, 3, 8, 0, 0), NY) == utc(2026, 3, 8, 7, 0)
    assert not is_open(night, "US", utc(2026, 3, 8, 6, 59, 59), NY)  # 01:59:59 EST


def test_ambiguous_hour_window_opens_twice_on_fall_back() -> None:
    # 01:00-01:30 happens twice on 2026-11-01 in New York: 05:00-05:30 UTC (EDT) and
    # 06:00-06:30 UTC (EST). Between the two the clock reads 01:30-02:00 EDT: closed.
    w = CallingWindows.weekly({"sun": [("01:00", "01:30")]})
    assert is_open(w, "US", utc(2026, 11, 1, 5, 10), NY)
    assert not is_open(w, "US", utc(2026, 11, 1, 5, 45), NY)
    assert nxt(w, "US", utc(2026, 11, 1, 5, 45), NY) == utc(2026, 11, 1, 6, 0)
    assert is_open(w, "US", utc(2026, 11, 1, 6, 29), NY)
    assert nxt(w, "US", utc(2026, 11, 1, 6, 30), NY) == utc(2026, 11, 8, 6, 0)


def test_ambiguous_start_is_its_first_occurrence() -> None:
    assert wall_to_instant(date(2026, 11, 1), time(1, 30), NY) == utc(2026, 11, 1, 5, 30)


def test_mexico_has_no_dst_since_2022() -> None:
    # Ley de los Husos Horarios 2022: Monterrey stays at UTC-6 all year; zoneinfo agrees.
    assert wall(MTY, 2026, 4, 15, 12).utcoffset() == timedelta(hours=-6)
    assert wall(MTY, 2026, 7, 15, 12).utcoffset() == timedelta(hours=-6)
    assert wall(MTY, 2021, 7, 15, 12).utcoffset() == timedelta(hours=-5)  # before the law
    assert transitions_on(date(2026, 4, 5), MTY) == ()
    # So 07:00 local is 13:00 UTC in April and in November alike.
    assert nxt(MX, "MX", utc(2026, 4, 7, 5, 0), MTY) == utc(2026, 4, 7, 13, 0)
    assert nxt(MX, "MX", utc(2026, 11, 10, 5, 0), MTY) == utc(2026, 11, 10, 13, 0)


def test_chile_dst_starts_at_midnight_and_the_day_starts_at_01_00() -> None:
    # America/Santiago springs forward at 24:00 Saturday 2026-09-05 -> 01:00 Sunday.
    start = start_of_day(date(2026, 9, 6), SCL)
    assert start == utc(2026, 9, 6, 4, 0)
    assert start.astimezone(SCL).hour == 1
    assert transitions_on(date(2026, 9, 6), SCL) == (utc(2026, 9, 6, 4, 0),)


# -- days and holidays ----------------------------------------------------------------


def test_colombia_saturday_hours_and_no_sunday() -> None:
    assert is_open(CO, "CO", wall(BOG, 2026, 6, 13, 14, 59), BOG)  # Saturday
    assert not is_open(CO, "CO", wall(BOG, 2026, 6, 13, 15, 0), BOG)
    assert not is_open(CO, "CO", wall(BOG, 2026, 6, 14, 10, 0), BOG)  # Sunday
    # Saturday 15:00 -> Monday 07:00 (Monday 2026-06-15 is a festivo: Sagrado Corazón),
    # so Tuesday 07:00.
    assert holiday_name("CO", date(2026, 6, 15)) is not None
    assert nxt(CO, "CO", wall(BOG, 2026, 6, 13, 15, 0), BOG) == wall(BOG, 2026, 6, 16, 7, 0)


def test_colombia_festivo_is_closed() -> None:
    # 2026-01-12: Epiphany moved to Monday (Ley Emiliani) -> festivo.
    assert holiday_name("CO", date(2026, 1, 12)) is not None
    assert not is_open(CO, "CO", wall(BOG, 2026, 1, 12, 10, 0), BOG)
    assert nxt(CO, "CO", wall(BOG, 2026, 1, 9, 19, 0), BOG) == wall(BOG, 2026, 1, 10, 8, 0)
    assert nxt(CO, "CO", wall(BOG, 2026, 1, 10, 15, 0), BOG) == wall(BOG, 2026, 1, 13, 7, 0)


def test_us_federal_holiday_is_not_a_ban() -> None:
    # 2026-07-04 (Independence Day, a Saturday; observed Friday 07-03): calls allowed.
    assert holiday_name("US", date(2026, 7, 3)) is not None
    assert is_open(US, "US", wall(NY, 2026, 7, 3, 10, 0), NY)
    assert is_open(US, "US", wall(NY, 2026, 7, 4, 10, 0), NY)


def test_next_open_across_a_weekend_in_peru() -> None:
    pe = COUNTRY_WINDOWS["PE"]
    lima = ZoneInfo("America/Lima")
    # Friday 2026-06-12 20:00 -> Monday 06-15 07:00 (no Saturday or Sunday calls).
    assert nxt(pe, "PE", wall(lima, 2026, 6, 12, 20, 0), lima) == wall(lima, 2026, 6, 15, 7, 0)


def test_all_closed_windows_never_open() -> None:
    closed = CallingWindows.weekly({})
    assert next_open(closed, "US", utc(2026, 1, 1), NY, horizon_days=30) is None


def test_unknown_country_uses_the_fallback_without_a_holiday_calendar() -> None:
    tz = ZoneInfo("Asia/Tokyo")
    assert holiday_name("ZZ", date(2026, 1, 1)) is None
    assert is_open(FALLBACK_WINDOWS, "ZZ", wall(tz, 2026, 6, 9, 9, 0), tz)
    assert not is_open(FALLBACK_WINDOWS, "ZZ", wall(tz, 2026, 6, 13, 9, 0), tz)  # Saturday


# -- CallingWindows values ------------------------------------------------------------


def test_weekly_builder_parses_names_and_strings() -> None:
    w = CallingWindows.weekly(
        {"Monday": [("09:00", "12:00"), ("14:00", "18:00")], 5: [(time(10), time(13))]},
        closed_on_holidays=True,
        source="test",
    )
    assert w.days[0] == ((time(9), time(12)), (time(14), time(18)))
    assert w.days[5] == ((time(10), time(13)),)
    assert w.days[6] == ()
    assert w.describe(0) == "mon: 09:00-12:00, 14:00-18:00"
    assert w.describe(6) == "sun: closed"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"mon": [("21:00", "08:00")]}, "ends"),
        ({"mon": [("08:00", "08:00")]}, "ends"),
        ({"mon": [("08:00", "12:00"), ("11:00", "13:00")]}, "overlap"),
        ({"funday": [("08:00", "12:00")]}, "weekday"),
        ({7: [("08:00", "12:00")]}, "weekday"),
        ({"mon": [("8 am", "12:00")]}, "HH:MM"),
        ({"mon": [("08:00",)]}, "start, end"),
    ],
)
def test_bad_windows_are_refused_with_the_field_named(
    mapping: dict[int | str, list[tuple[str, ...]]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CallingWindows.weekly(mapping)  # type: ignore[arg-type]


def test_seven_days_required() -> None:
    with pytest.raises(ValueError, match="7 weekdays"):
        CallingWindows(days=((),) * 6)


def test_intersection_narrows_and_keeps_the_holiday_ban() -> None:
    campaign = CallingWindows.weekly({d: [("10:00", "20:00")] for d in range(7)}, source="camp")
    both = CO.intersect(campaign)
    assert both.days[0] == ((time(10), time(19)),)
    assert both.days[5] == ((time(10), time(15)),)
    assert both.days[6] == ()
    assert both.closed_on_holidays


def test_a_number_spanning_zones_must_fit_every_window() -> None:
    # Reg F 1006.6(b)(1)(i): uncertain location -> convenient in every possible one.
    # A number that may be in New York or in Chicago, at 07:30 Chicago (08:30 New York):
    # New York is open, Chicago not until 08:00 Chicago = 09:00 New York.
    phone = PhoneFacts(
        "12125550100", "US", "America/New_York", other_time_zones=("America/Chicago",)
    )
    lead = LeadFacts(LeadId("Z"), (phone,), ())
    v = ContactPolicy().evaluate(lead, phone, at=wall(NY, 2026, 6, 9, 8, 30))
    assert not v.allowed
    failed = [c.rule for c in v.checks if not c.passed]
    assert failed == ["calling_window[America/Chicago]"]
    assert v.next_eligible == wall(NY, 2026, 6, 9, 9, 0)
    # And at night New York closes first: 20:59 Chicago is 21:59 New York, closed.
    late = ContactPolicy().evaluate(lead, phone, at=wall(NY, 2026, 6, 9, 20, 59))
    assert [c.rule for c in late.checks if not c.passed] == []
    assert not ContactPolicy().is_allowed(lead, phone, at=wall(NY, 2026, 6, 9, 21, 0))
    with pytest.raises(ValueError, match="other_time_zones"):
        PhoneFacts("12125550100", "US", "America/New_York", other_time_zones=("Nowhere/X",))
