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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, is_number_type_geographical
from phonenumbers.timezone import (
    _country_level_time_zones_for_number,
    time_zones_for_geographical_number,
)
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX

from dialer.phones_fast import number_type, parse_number

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
        num = parse_number(text, region)
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
