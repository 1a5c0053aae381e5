"""Disposition validation (``dialer.disposition``): every bad field is named, nothing guessed."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dialer.disposition import (
    DispositionCode,
    DispositionError,
    parse_disposition,
    validate_custom_codes,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=-6)))
TODAY = NOW.date()


def parse(payload: dict[str, object], **kw: object) -> object:
    return parse_disposition(payload, today=TODAY, now=NOW, **kw)  # type: ignore[arg-type]


def test_promise_to_pay_needs_amount_and_a_date_not_in_the_past() -> None:
    d = parse_disposition(
        {"code": "promise_to_pay", "amount": "1500.50", "due": "2026-03-02"},
        today=TODAY,
        now=NOW,
        default_currency="MXN",
    )
    assert d.amount == Decimal("1500.50") and d.due == date(2026, 3, 2) and d.currency == "MXN"
    assert d.right_party
    for payload, field in [
        ({"code": "promise_to_pay", "due": "2026-03-09"}, "amount"),
        ({"code": "promise_to_pay", "amount": "-3", "due": "2026-03-09"}, "amount"),
        ({"code": "promise_to_pay", "amount": "1.005", "due": "2026-03-09"}, "amount"),
        ({"code": "promise_to_pay", "amount": "NaN", "due": "2026-03-09"}, "amount"),
        ({"code": "promise_to_pay", "amount": True, "due": "2026-03-09"}, "amount"),
        ({"code": "promise_to_pay", "amount": "10"}, "due"),
        ({"code": "promise_to_pay", "amount": "10", "due": "2026-03-01"}, "due"),
        ({"code": "promise_to_pay", "amount": "10", "due": "03/09/2026"}, "due"),
        (
            {"code": "promise_to_pay", "amount": "10", "due": "2026-03-09", "currency": "pesos"},
            "currency",
        ),
    ]:
        with pytest.raises(DispositionError) as err:
            parse(payload)
        assert err.value.field == field, payload


def test_callback_needs_a_future_time_with_an_offset() -> None:
    d = parse_disposition(
        {"code": "callback", "callback_at": "2026-03-02T17:30:00-06:00", "callback_mine": False},
        today=TODAY,
        now=NOW,
    )
    assert d.callback_at == datetime(2026, 3, 2, 17, 30, tzinfo=timezone(timedelta(hours=-6)))
    assert d.callback_mine is False
    for value in ("2026-03-02T17:30:00", "2026-03-02T09:00:00-06:00", "tomorrow", 5):
        with pytest.raises(DispositionError) as err:
            parse({"code": "callback", "callback_at": value})
        assert err.value.field == "callback_at"


def test_codes_unknown_fields_and_misplaced_data_are_refused() -> None:
    assert parse({"code": "wrong_number"}).code == DispositionCode.WRONG_NUMBER  # type: ignore[attr-defined]
    with pytest.raises(DispositionError, match="code: unknown code 'settled'"):
        parse({"code": "settled"})
    assert parse({"code": "settled"}, custom_codes={"settled"}).code == "settled"  # type: ignore[attr-defined]
    for payload, field in [
        ({}, "code"),
        ({"code": "refused", "colour": "red"}, "colour"),
        ({"code": "refused", "amount": "10"}, "amount"),
        ({"code": "refused", "callback_at": "2026-03-03T10:00:00+00:00"}, "callback_at"),
        ({"code": "refused", "note": "x" * 2001}, "note"),
        ({"code": "refused", "callback_mine": "yes"}, "callback_mine"),
    ]:
        with pytest.raises(DispositionError) as err:
            parse(payload)
        assert err.value.field == field, payload


def test_one_vocabulary_with_the_store() -> None:
    assert parse({"code": "rpc"}).right_party  # type: ignore[attr-defined]
    assert not parse({"code": "contact"}).right_party  # type: ignore[attr-defined]


def test_custom_codes_are_identifiers_and_never_shadow_built_ins() -> None:
    assert validate_custom_codes(["paid_already", "legal_hold"]) == {"paid_already", "legal_hold"}
    with pytest.raises(ValueError, match="built-in"):
        validate_custom_codes(["refused"])
    with pytest.raises(ValueError, match="a-z"):
        validate_custom_codes(["Paid Already"])
