"""Calling windows: when, in the debtor's local time, a collection call may be placed.

A window is half-open, ``[start, end)`` on the debtor's wall clock: a window "08:00 to
21:00" allows 20:59:59 and refuses 21:00:00 (FDCPA's "after 9 o'clock" is read
conservatively: 21:00 is no longer "before 9 p.m."). Windows never cross midnight; a
night window is two windows on two days.

Country defaults (``COUNTRY_WINDOWS``) and what they rest on:

- US: every day 08:00-21:00; public holidays are not a ban. FDCPA 15 USC 1692c(a)(1):
  a time "before 8 o'clock antemeridian and after 9 o'clock postmeridian, local time at
  the consumer's location" is presumed inconvenient; Reg F 12 CFR 1006.6(b)(1)(i).
- MX: Monday to Friday 07:00-22:00, closed on weekends and public holidays. CONDUSEF's
  general provisions on collection agencies ("Disposiciones de carácter general
  aplicables a las entidades financieras en materia de despachos de cobranza", under the
  Ley para la Transparencia y Ordenamiento de los Servicios Financieros) allow contact
  from 07:00 to 22:00 in the debtor's time zone; PROFECO's and CONDUSEF's public guidance
  also say Monday to Friday and no holidays. We take the conservative reading (the days
  are not confirmed from the DOF text itself): a campaign may widen with ``replace``.
- CO: Monday to Friday 07:00-19:00, Saturday 08:00-15:00, no Sundays or public holidays:
  Ley 2300 de 2023 ("dejen de fregar"), art. 3.
- PE: Monday to Friday 07:00-20:00, no Saturdays, Sundays or holidays: Ley 29571
  (Código de Protección y Defensa del Consumidor), art. 62(b) forbids collection calls
  between 20:00 and 07:00 and on Saturdays, Sundays and holidays.
- CL: Monday to Saturday 08:00-20:00, no holidays: Ley 19.496 art. 37 (as amended by
  Ley 21.320 of 2021) allows collection calls only on "días y horas hábiles" of the
  Código de Procedimiento Civil, art. 59 (08:00-20:00).
- AR: Monday to Friday 08:00-20:00, no weekends or holidays: a *conservative default*;
  national law (Ley 24.240 art. 8 bis, "trato digno") sets no hours; provinces vary.
- ES: Monday to Friday 09:00-21:00, no weekends or holidays: a *conservative default*
  modelled on the hours Spanish consumer law sets for unsolicited commercial calls
  (TRLGDCU, RDL 1/2007, art. 96); no specific rule for collection calls is encoded.
- anything else: ``FALLBACK_WINDOWS``, Monday to Friday 09:00-20:00, no holidays
  (conservative default, reported as such in the check's reason).

Public holidays come from the ``holidays`` package (national holidays of the phone's
country; regional holidays are not consulted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from rules.localtime import local, to_utc, transitions_on, wall_to_instant

Interval = tuple[time, time]
DayWindows = tuple[Interval, ...]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_time(value: time | str, *, field: str) -> time:
    """``time`` or "HH:MM[:SS]" to a naive ``time``; ValueError naming ``field``."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"{field}: a local wall-clock time must be naive, got {value!r}")
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field}: not a time of day (HH:MM): {value!r}") from None
    raise ValueError(f"{field}: expected a time or 'HH:MM', got {type(value).__name__}")


def _day_index(key: int | str, *, field: str) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 6:
        return key
    if isinstance(key, str) and key.strip().lower()[:3] in DAY_NAMES:
        return DAY_NAMES.index(key.strip().lower()[:3])
    raise ValueError(f"{field}: not a weekday (0=Monday..6=Sunday or 'mon'..'sun'): {key!r}")


@dataclass(frozen=True, slots=True)
class CallingWindows:
    """Allowed local times per weekday (``days[0]`` is Monday), half-open ``[start, end)``.

    ``closed_on_holidays``: no calls on the country's public holidays.
    ``source``: where the hours come from (shown by ``explain``).
    """

    days: tuple[DayWindows, ...]
    closed_on_holidays: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"CallingWindows.days: expected 7 weekdays, got {len(self.days)}")
        for i, day in enumerate(self.days):
            previous_end: time | None = None
            for j, (start, end) in enumerate(day):
                field = f"CallingWindows.days[{DAY_NAMES[i]}][{j}]"
                if not (isinstance(start, time) and isinstance(end, time)):
                    raise ValueError(f"{field}: expected (time, time), got {(start, end)!r}")
                parse_time(start, field=field)  # refuses aware times
                parse_time(end, field=field)
                if not start < end:
                    raise ValueError(
                        f"{field}: window ends ({end:%H:%M}) before or when it starts "
                        f"({start:%H:%M}); windows may not cross midnight"
                    )
                if previous_end is not None and start < previous_end:
                    raise ValueError(f"{field}: windows overlap or are out of order")
                previous_end = end

    @classmethod
    def weekly(
        cls,
        mapping: Mapping[int | str, Sequence[tuple[time | str, time | str]]],
        *,
        closed_on_holidays: bool = False,
        source: str = "",
    ) -> CallingWindows:
        """From ``{weekday: [(start, end), ...]}``; weekdays 0..6 or 'mon'..'sun';
        times ``time`` or 'HH:MM'. Missing weekdays are closed."""
        days: list[list[Interval]] = [[] for _ in range(7)]
        for key, spans in mapping.items():
            i = _day_index(key, field=f"calling windows [{key!r}]")
            for j, span in enumerate(spans):
                field = f"calling windows [{DAY_NAMES[i]}][{j}]"
                if len(span) != 2:
                    raise ValueError(f"{field}: expected (start, end), got {span!r}")
                days[i].append((parse_time(span[0], field=field), parse_time(span[1], field=field)))
        return cls(
            days=tuple(tuple(sorted(d)) for d in days),
            closed_on_holidays=closed_on_holidays,
            source=source,
        )

    def intersect(self, other: CallingWindows) -> CallingWindows:
        """Times allowed by both (a campaign narrowing a country's legal hours)."""
        days = []
        for mine, theirs in zip(self.days, other.days, strict=True):
            out: list[Interval] = []
            for s1, e1 in mine:
                for s2, e2 in theirs:
                    s, e = max(s1, s2), min(e1, e2)
                    if s < e:
                        out.append((s, e))
            days.append(tuple(sorted(out)))
        return CallingWindows(
            days=tuple(days),
            closed_on_holidays=self.closed_on_holidays or other.closed_on_holidays,
            source=f"{other.source or 'campaign'} within {self.source or 'country default'}",
        )

    def describe(self, weekday: int) -> str:
        spans = self.days[weekday]
        if not spans:
            return f"{DAY_NAMES[weekday]}: closed"
        text = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in spans)
        return f"{DAY_NAMES[weekday]}: {text}"


def _every_day(start: time, end: time) -> tuple[DayWindows, ...]:
    return tuple(((start, end),) for _ in range(7))


def _weekdays(start: time, end: time, saturday: DayWindows = ()) -> tuple[DayWindows, ...]:
    return (*(((start, end),) for _ in range(5)), saturday, ())


COUNTRY_WINDOWS: Mapping[str, CallingWindows] = {
    "US": CallingWindows(
        days=_every_day(time(8), time(21)),
        closed_on_holidays=False,
        source="US default: FDCPA 15 USC 1692c(a)(1), Reg F 12 CFR 1006.6(b)(1)(i)",
    ),
    "MX": CallingWindows(
        days=_weekdays(time(7), time(22)),
        closed_on_holidays=True,
        source="MX default: CONDUSEF despachos de cobranza, 07:00-22:00 Mon-Fri",
    ),
    "CO": CallingWindows(
        days=_weekdays(time(7), time(19), saturday=((time(8), time(15)),)),
        closed_on_holidays=True,
        source="CO default: Ley 2300 de 2023 art. 3",
    ),
    "PE": CallingWindows(
        days=_weekdays(time(7), time(20)),
        closed_on_holidays=True,
        source="PE default: Ley 29571 art. 62(b)",
    ),
    "CL": CallingWindows(
        days=_weekdays(time(8), time(20), saturday=((time(8), time(20)),)),
        closed_on_holidays=True,
        source="CL default: Ley 19.496 art. 37 (Ley 21.320), CPC art. 59",
    ),
    "AR": CallingWindows(
        days=_weekdays(time(8), time(20)),
        closed_on_holidays=True,
        source="AR conservative default (Ley 24.240 art. 8 bis sets no hours)",
    ),
    "ES": CallingWindows(
        days=_weekdays(time(9), time(21)),
        closed_on_holidays=True,
        source="ES conservative default (TRLGDCU art. 96 hours for commercial calls)",
    ),
}

FALLBACK_WINDOWS = CallingWindows(
    days=_weekdays(time(9), time(20)),
    closed_on_holidays=True,
    source="conservative fallback (no default for this country)",
)


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays_lib.HolidayBase | None:
    try:
        return holidays_lib.country_holidays(country)
    except NotImplementedError:
        return None


@lru_cache(maxsize=8192)
def holiday_name(country: str, day: date) -> str | None:
    """The name of the public holiday on ``day`` in ``country``, or None.

    None also when the ``holidays`` package has no calendar for the country.
    """
    calendar = _calendar(country)
    if calendar is None:
        return None
    name = calendar.get(day)
    return None if name is None else str(name)


def has_calendar(country: str) -> bool:
    return _calendar(country) is not None


def closed_reason(windows: CallingWindows, country: str, day: date) -> str | None:
    """Why local date ``day`` has no calling time at all, or None if it has some."""
    if windows.closed_on_holidays:
        name = holiday_name(country, day)
        if name is not None:
            return f"public holiday in {country} ({name})"
    if not windows.days[day.weekday()]:
        return f"no calling on {DAY_NAMES[day.weekday()]}"
    return None


def is_open(windows: CallingWindows, country: str, at: datetime, tz: ZoneInfo) -> bool:
    """Does the debtor's wall clock at instant ``at`` read a time inside a window?"""
    wall = local(at, tz)
    day = wall.date()
    if closed_reason(windows, country, day) is not None:
        return False
    clock = wall.time()
    return any(start <= clock < end for start, end in windows.days[day.weekday()])


def next_open(
    windows: CallingWindows,
    country: str,
    after: datetime,
    tz: ZoneInfo,
    *,
    horizon_days: int,
) -> datetime | None:
    """The earliest instant at or after ``after`` at which ``is_open`` holds (UTC).

    Exact, DST included: the set of open instants is a union of intervals; each
    interval begins either where the wall clock reaches a window's start (``fold=0``
    first, or the transition instant when that wall time does not exist) or where the
    wall clock jumps (a DST transition). We test exactly those candidates, date by date
    (a zone's local dates never run backwards). None if nothing opens within
    ``horizon_days`` local days.
    """
    after = to_utc(after)
    if is_open(windows, country, after, tz):
        return after
    first_day = local(after, tz).date()
    for offset in range(-1, horizon_days + 1):
        day = first_day + timedelta(days=offset)
        if closed_reason(windows, country, day) is not None:
            continue
        candidates: set[datetime] = set(transitions_on(day, tz))
        for start, _end in windows.days[day.weekday()]:
            candidates.add(wall_to_instant(day, start, tz))
            # An ambiguous start (fall back) also begins an interval at its second reading.
            candidates.add(to_utc(datetime.combine(day, start, tzinfo=tz).replace(fold=1)))
        for candidate in sorted(c for c in candidates if c > after):
            if is_open(windows, country, candidate, tz):
                return candidate
    return None
