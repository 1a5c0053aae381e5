"""``dialer.phones.number_type`` must answer exactly as ``phonenumbers.number_type``:
the importer relies on it to accept or refuse numbers and to pick their time zone."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from dialer.phones import number_type

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
