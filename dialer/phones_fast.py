"""Exact fast paths through ``phonenumbers`` for the lead importer's hot loop.

A million-row debtor file means 1.5 million ``phonenumbers.parse`` + ``number_type``
calls, the largest CPU cost of an import. Both functions here return exactly what
``phonenumbers`` returns (the same ``PhoneNumber``, the same type, the same exception
type and message), by the same steps, minus the generic work that cannot apply to
their input; tests/test_phones_fast.py checks them against ``phonenumbers`` on every
region's example numbers written every way, and on random digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import (
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberType,
    national_significant_number,
)
from phonenumbers import phonenumberutil as _pu

# ------------------------------------------------------------------------ parse

# ``phonenumbers.parse`` first finds the number in free text (leading text, trailing
# punctuation, RFC 3966 parameters, an extension), checks it is viable and normalises
# every character through Unicode digit tables; for "+" and 3 to 17 ASCII digits all of
# that leaves the text as it is, so the fast path starts where the region's rules start
# (international prefix, country code, national prefix): ~6 µs instead of ~12.
_PLAIN_DIGITS = re.compile(r"\+?[0-9]{3,17}")
_INTERNALS = (
    "_maybe_extract_country_code",
    "_PLUS_CHARS_PATTERN",
    "_normalize",
    "_maybe_strip_national_prefix_carrier_code",
    "_test_number_length",
    "_set_italian_leading_zeros_for_phone_number",
    "_MIN_LENGTH_FOR_NSN",
    "_MAX_LENGTH_FOR_NSN",
    "ValidationResult",
)
# Another phonenumbers release may rename its helpers: then every number takes the
# library's own path (slower, never different).
_FAST = all(hasattr(_pu, name) for name in _INTERNALS)
_NPE = phonenumbers.NumberParseException


def parse_number(text: str, region: str) -> PhoneNumber:
    """``phonenumbers.parse(text, region)``, faster for "+" and plain digits."""
    if not _FAST or not _PLAIN_DIGITS.fullmatch(text):
        return phonenumbers.parse(text, region)
    plus = text[0] == "+"
    if not plus and region not in phonenumbers.SUPPORTED_REGIONS:
        return phonenumbers.parse(text, region)  # its "invalid default region" error
    return _parse_plain(text, region)


def _parse_plain(number: str, region: str) -> PhoneNumber:
    """The body of ``phonenumbers.parse`` after its text clean-up (phonenumbers 8.13 -
    9.0, ``keep_raw_input`` False), step by step."""
    numobj = PhoneNumber()
    # None for an unsupported region: only with a "+" (parse_number checks), as in parse.
    metadata: Any = PhoneMetadata.metadata_for_region(region.upper(), None)
    try:
        country_code, national = _pu._maybe_extract_country_code(number, metadata, False, numobj)
    except _NPE as exc:
        plus = _pu._PLUS_CHARS_PATTERN.match(number)
        if exc.error_type != _NPE.INVALID_COUNTRY_CODE or plus is None:
            raise
        # Strip the plus sign and try again (as the library does).
        country_code, national = _pu._maybe_extract_country_code(
            number[plus.end() :], metadata, False, numobj
        )
        if country_code == 0:
            raise _NPE(
                _NPE.INVALID_COUNTRY_CODE, "Could not interpret numbers after plus-sign."
            ) from None
    if country_code != 0:
        number_region = phonenumbers.region_code_for_country_code(country_code)
        if number_region != region:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(
                country_code, number_region
            )
    else:
        national += _pu._normalize(number)
        country_code = metadata.country_code
        numobj.country_code = country_code
    if len(national) < _pu._MIN_LENGTH_FOR_NSN:
        raise _NPE(_NPE.TOO_SHORT_NSN, "The string supplied is too short to be a phone number.")
    if metadata is not None:
        _carrier, potential, _ = _pu._maybe_strip_national_prefix_carrier_code(national, metadata)
        if _pu._test_number_length(potential, metadata) not in (
            _pu.ValidationResult.TOO_SHORT,
            _pu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
            _pu.ValidationResult.INVALID_LENGTH,
        ):
            national = potential
    if len(national) > _pu._MAX_LENGTH_FOR_NSN:
        raise _NPE(_NPE.TOO_LONG, "The string supplied is too long to be a phone number.")
    _pu._set_italian_leading_zeros_for_phone_number(national, numobj)
    numobj.national_number = int(national)
    return numobj


# ------------------------------------------------------------------ number type

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
