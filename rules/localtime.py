"""Wall-clock arithmetic in the debtor's zone, exact across DST changes.

A calling window is a statement about the debtor's *wall clock* ("08:00 to 21:00").
An instant is inside it when the wall clock at that instant reads a time inside it. Two
things make "the instant at which the wall clock reads 08:00" subtle:

- nonexistent local times (spring forward, e.g. 02:00-03:00 on a US March Sunday): the
  wall clock never reads 02:30; the first instant at which it reads 02:30 *or later* is
  the transition itself (03:00 local);
- ambiguous local times (fall back): the wall clock reads 01:30 twice; the first
  occurrence (``fold=0``) is the earlier instant.

All results are returned in UTC, so that comparisons and subtraction are absolute
(Python compares aware datetimes in the same zone by wall time, PEP 495).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_SECOND = timedelta(seconds=1)


def to_utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def local(at: datetime, tz: ZoneInfo) -> datetime:
    """The wall clock at instant ``at`` in ``tz`` (aware, with the right fold)."""
    return at.astimezone(tz)


def local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _offset(at_utc: datetime, tz: ZoneInfo) -> timedelta:
    off = at_utc.astimezone(tz).utcoffset()
    assert off is not None  # zoneinfo always gives an offset
    return off


def wall_to_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``tz`` reads ``day wall`` or later.

    Exists-and-unique: that instant. Ambiguous (fall back): the first occurrence.
    Nonexistent (spring forward): the transition instant, found by bisection on whole
    seconds between the two candidate readings (tz database transitions are on whole
    seconds).
    """
    naive = datetime.combine(day, wall)
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    u0 = early.astimezone(UTC)
    u1 = late.astimezone(UTC)
    if u0 <= u1:
        # Equal: an ordinary time. u0 < u1: ambiguous, fold=0 is the first occurrence.
        return u0
    # Nonexistent: fold=0 used the offset before the change (u0 is after the change),
    # fold=1 the offset after it (u1 is before the change). The change lies in (u1, u0].
    new_offset = _offset(u0, tz)
    lo, hi = u1, u0
    while hi - lo > _SECOND:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + _SECOND
        if _offset(mid, tz) == new_offset:
            hi = mid
        else:
            lo = mid
    return hi


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) of local date ``day`` (handles zones whose DST starts at 00:00)."""
    return wall_to_instant(day, time(0), tz)


def transitions_on(day: date, tz: ZoneInfo) -> tuple[datetime, ...]:
    """UTC instants during local date ``day`` at which the zone's UTC offset changes.

    (At most one in every real zone and day; found by bisection between the starts of
    ``day`` and the next day.)
    """
    # A change exactly at the day's first instant (zones that change at 00:00, such as
    # America/Santiago) counts for this day: compare with the previous day's last second.
    start = start_of_day(day, tz) - _SECOND
    end = start_of_day(day + timedelta(days=1), tz)
    if _offset(start, tz) == _offset(end - _SECOND, tz):
        return ()
    before = _offset(start, tz)
    lo, hi = start, end - _SECOND
    while hi - lo > _SECOND:
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid <= lo:
            mid = lo + _SECOND
        if _offset(mid, tz) == before:
            lo = mid
        else:
            hi = mid
    return (hi,)
