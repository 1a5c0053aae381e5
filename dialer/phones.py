"""Phone numbers from a debtor file: E.164 and the debtor's time zone, via ``phonenumbers``.

Pure (no IO, no clock), used by the lead importer in worker processes.

Time zone: ``phonenumbers.timezone`` gives the zones of the number's prefix (area code
for landlines; the whole country for non-geographic numbers such as most mobiles). When
it gives several, the choice is deterministic: the country's reference zone
(``REFERENCE_ZONES``: the capital's) if it is among them, else the first in sorted
order. A ``time_zone`` column overrides it per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import (
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
    is_number_type_geographical,
    national_significant_number,
)
from phonenumbers.timezone import (
    _country_level_time_zones_for_number,
    time_zones_for_geographical_number,
)
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX

UNKNOWN_ZONE = "Etc/Unknown"
# The capital's zone: the deterministic pick when a prefix spans several zones.
REFERENCE_ZONES = {
    "MX": "America/Mexico_City",
    "CO": "America/Bogota",
    "PE": "America/Lima",
    "CL": "America/Santiago",
    "AR": "America/Argentina/Buenos_Aires",
    "ES": "Europe/Madrid",
    "US": "America/New_York",
    "BR": "America/Sao_Paulo",
    "EC": "America/Guayaquil",
    "GT": "America/Guatemala",
    "CA": "America/Toronto",
}
# phonenumbers still uses some old IANA links; the tz database knows both names.
_ALIASES = {"America/Buenos_Aires": "America/Argentina/Buenos_Aires"}


_PLAIN = re.compile(r"\+?[0-9 ().\-]+")
_DROP = str.maketrans("", "", " ().-")


class PhoneError(ValueError):
    """Why a value is not a usable phone number (the reason goes in the import report)."""


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    e164: str  # "+" and digits
    country: str  # ISO 3166 alpha-2
    time_zone: str  # IANA


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def pick_zone(zones: tuple[str, ...] | list[str], country: str) -> str | None:
    """The deterministic choice among a number's candidate zones (None: unknown)."""
    known = sorted({_ALIASES.get(z, z) for z in zones if z != UNKNOWN_ZONE})
    if not known:
        ref = REFERENCE_ZONES.get(country)
        return ref
    ref = REFERENCE_ZONES.get(country)
    if ref is not None and ref in known:
        return ref
    return known[0]


# Zone lookups keyed by the first TIMEZONE_LONGEST_PREFIX digits (the lookup reads no
# further, so the cache is exact) or by the country code for non-geographic numbers.
_GEO: dict[str, tuple[str, ...]] = {}
_COUNTRY: dict[int, tuple[str, ...]] = {}
_CACHE_MAX = 200_000


def _zones(num: phonenumbers.PhoneNumber, geographical: bool) -> tuple[str, ...]:
    if not geographical:
        cc = num.country_code or 0
        found = _COUNTRY.get(cc)
        if found is None:
            found = _COUNTRY[cc] = tuple(_country_level_time_zones_for_number(num))
        return found
    key = f"{num.country_code}{num.national_number}"[:TIMEZONE_LONGEST_PREFIX]
    found = _GEO.get(key)
    if found is None:
        found = tuple(time_zones_for_geographical_number(num))
        if len(_GEO) < _CACHE_MAX:
            _GEO[key] = found
    return found


# ---------------------------------------------------------------- number type, faster
# ``phonenumbers.number_type`` walks the region's number descriptions in a fixed order
# (general, then premium rate ... voicemail, then fixed line / mobile), each a
# possible-lengths check and a full match of its pattern, through several Python-level
# helpers per description: ~7 µs a number, a third of the import's phone parsing. The
# same walk over descriptions prepared once per metadata (lengths as a frozenset, the
# pattern compiled) gives the same answer in ~2 µs; tests/test_phones_fast_type.py
# checks it against ``phonenumbers.number_type`` on every region's example numbers and
# on random digits.

_Desc = tuple[frozenset[int], "re.Pattern[str]"] | None
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


@dataclass(frozen=True, slots=True)
class _TypeTable:
    general: _Desc
    special: tuple[tuple[_Desc, int], ...]
    fixed_line: _Desc
    mobile: _Desc
    same_mobile_and_fixed_line: bool


def _desc(desc: Any) -> _Desc:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _table(metadata: Any) -> _TypeTable:
    return _TypeTable(
        _desc(metadata.general_desc),
        tuple(
            (d, t)
            for d, t in ((_desc(getattr(metadata, a)), t) for a, t in _SPECIAL_TYPES)
            if d is not None
        ),
        _desc(metadata.fixed_line),
        _desc(metadata.mobile),
        bool(metadata.same_mobile_and_fixed_line_pattern),
    )


def _matches(nn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nn) not in lengths:
        return False
    return pattern.fullmatch(nn) is not None


_TABLES: dict[tuple[int, str], _TypeTable | None] = {}


def number_type(num: phonenumbers.PhoneNumber) -> int:
    """``phonenumbers.number_type(num)``, the same answer, faster (see above)."""
    cc = num.country_code or 0
    region: str = phonenumbers.region_code_for_number(num) or ""  # "": none (phonenumbers: None)
    key = (cc, region)
    if key not in _TABLES:
        md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region or None)  # type: ignore[arg-type]
        _TABLES[key] = None if md is None else _table(md)
    table = _TABLES[key]
    if table is None:
        return PhoneNumberType.UNKNOWN
    nn = national_significant_number(num)
    if not _matches(nn, table.general):
        return PhoneNumberType.UNKNOWN
    for desc, kind in table.special:
        if _matches(nn, desc):
            return kind
    if _matches(nn, table.fixed_line):
        if table.same_mobile_and_fixed_line or _matches(nn, table.mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not table.same_mobile_and_fixed_line and _matches(nn, table.mobile):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


def parse_phone(raw: str, region: str) -> ParsedPhone:
    """``raw`` as written in the file (national for ``region``, or international with +)
    -> E.164, country and zone. Raises PhoneError with the reason."""
    text = raw.strip()
    if len(text) > 40:
        raise PhoneError("too long to be a phone number")
    if _PLAIN.fullmatch(text):
        # Only digits and punctuation: phonenumbers would drop the punctuation itself, one
        # Unicode lookup per character; doing it here first is the same number, faster.
        text = text.translate(_DROP)
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number ({exc._msg})") from None
    ntype = number_type(num)
    if ntype == PhoneNumberType.UNKNOWN:
        raise PhoneError(
            f"not a valid number for {region}" if not text.startswith("+") else "not a valid number"
        )
    country = phonenumbers.region_code_for_number(num) or region
    zones = _zones(num, is_number_type_geographical(ntype, num.country_code or 0))
    zone = pick_zone(zones, country)
    if zone is None:
        raise PhoneError(f"no time zone known for this number ({country})")
    return ParsedPhone(phonenumbers.format_number(num, PhoneNumberFormat.E164), country, zone)
