"""``dialer.phones_fast`` must answer exactly as ``phonenumbers`` does: the importer
relies on it to accept or refuse numbers, normalise them and pick their time zone."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from dialer.phones_fast import number_type, parse_number

COUNTRIES = ("MX", "US", "CO", "PE", "CL", "AR", "ES", "BR", "GB", "IT", "DE", "IN", "AU")


def test_every_regions_example_numbers_of_every_type() -> None:
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            assert number_type(example) == phonenumbers.number_type(example), (region, kind)
            checked += 1
    assert checked > 1000  # 245 regions, most with several types (1,374 in 9.0)


@pytest.mark.parametrize("region", COUNTRIES)
def test_random_digits_valid_or_not(region: str) -> None:
    rng = random.Random(region)
    kinds = set()
    for _ in range(1500):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 15)))
        try:
            num = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        ours = number_type(num)
        assert ours == phonenumbers.number_type(num), (region, digits)
        kinds.add(ours)
    assert phonenumbers.PhoneNumberType.UNKNOWN in kinds and len(kinds) > 1


def test_numbers_that_differ_only_late_in_the_number() -> None:
    """Mexican and US numbers one digit apart, around the length and pattern limits."""
    for text, region in (
        ("5512345678", "MX"), ("551234567", "MX"), ("55123456789", "MX"),
        ("+12125550123", None), ("+12121550123", None), ("+1212555012", None),
        ("+34612345678", None), ("+34512345678", None), ("+5491123456789", None),
    ):  # fmt: skip
        num = phonenumbers.parse(text, region)
        assert number_type(num) == phonenumbers.number_type(num), text


def _same_parse(text: str, region: str) -> None:
    try:
        expected: object = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        expected = (exc.error_type, exc._msg)
    try:
        got: object = parse_number(text, region)
    except phonenumbers.NumberParseException as exc:
        got = (exc.error_type, exc._msg)
    assert got == expected, (text, region)


def _written_every_way(num: phonenumbers.PhoneNumber) -> list[str]:
    """E.164, and the national and international formats with the punctuation dropped
    (as the importer does before parsing)."""
    out = [phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)]
    for fmt in (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    ):
        text = phonenumbers.format_number(num, fmt)
        out.append("".join(c for c in text if c.isdigit() or c == "+"))
    return out


def test_parse_every_regions_example_numbers_written_every_way() -> None:
    checked = 0
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    for region in regions:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for text in _written_every_way(example):
                # In its own region, in a neighbour's and in the US (as a default region
                # of a campaign importing foreign numbers).
                for as_region in (region, "US", "MX", "ES"):
                    _same_parse(text, as_region)
                    checked += 1
    assert checked > 10_000


@pytest.mark.parametrize("region", COUNTRIES)
def test_parse_random_digits_with_prefixes(region: str) -> None:
    """National prefixes, international dialling prefixes, the country code without a
    plus, too short and too long, with and without "+"."""
    rng = random.Random(f"parse-{region}")
    cc = str(phonenumbers.country_code_for_region(region))
    prefixes = ("", "0", "00", "011", "1", "01", "044", "045", "9", "15", cc, "00" + cc, "0" + cc)
    for _ in range(1500):
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 16)))
        text = rng.choice(prefixes) + body
        _same_parse(text, region)
        _same_parse("+" + text, region)
        _same_parse("+" + cc + body, region)


def test_parse_edges_and_other_inputs_take_the_librarys_path() -> None:
    for text, region in (
        ("12", "MX"), ("123", "MX"), ("+12", "MX"), ("+123", "MX"), ("+1234", "ZZ"),
        ("5512345678", "ZZ"), ("+999123456", "MX"), ("+0123456789", "MX"),
        ("0" * 17, "MX"), ("+" + "9" * 17, "US"), ("5" * 18, "MX"),
        ("(55) 1234-5678", "MX"), ("tel:+1-212-555-0123", "US"), ("55 1234 5678 ext. 12", "MX"),
        ("+54 9 11 2345 6789", "AR"), ("5491123456789", "AR"), ("01 55 1234 5678", "MX"),
        ("3912345678", "IT"), ("0612345678", "IT"), ("+390612345678", "IT"),
    ):  # fmt: skip
        _same_parse(text, region)
