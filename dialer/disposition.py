"""Dispositions: what an agent says a call achieved, validated from untrusted JSON.

A disposition is set during or after the conversation (wrap-up). The built-in codes are
the collections ones of ``dialer.disposition_codes`` (one vocabulary for the API, the
store and the reports); a campaign's config may add its own (``custom_codes``). Codes that
carry data require it: a promise to pay needs a positive amount and a due date that is
not in the past; a callback needs a future time with a zone. Anything else is refused
with the field and the reason (``DispositionError``), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from dialer.disposition_codes import STANDARD_CODES, DispositionCode, classify
from dialer.errors import DialerError

MAX_NOTE = 2000  # characters: a note is a remark, not a document
_CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code
_CUSTOM = re.compile(r"[a-z][a-z0-9_]{0,39}")


class DispositionError(DialerError):
    """A disposition is invalid (from the API's JSON or the service's request);
    ``field`` names what was wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Disposition:
    code: str  # a DispositionCode value or a custom code of the campaign
    note: str = ""
    amount: Decimal | None = None  # promise to pay, in ``currency``
    currency: str | None = None
    due: date | None = None  # promise to pay: the promised payment date
    callback_at: datetime | None = None  # tz-aware
    callback_mine: bool = True  # the callback goes to the agent who agreed it

    @property
    def right_party(self) -> bool:
        """Spoken with the debtor themself (``dialer.disposition_codes.classify``)."""
        return classify(self.code)[1]


def validate_custom_codes(codes: Collection[str]) -> frozenset[str]:
    """Custom codes are lower-case identifiers and may not shadow a built-in code."""
    out = set()
    for code in codes:
        if not _CUSTOM.fullmatch(code):
            raise ValueError(f"custom disposition code {code!r}: use a-z, 0-9 and _")
        if code in STANDARD_CODES:
            raise ValueError(f"custom disposition code {code!r} is a built-in code")
        out.add(code)
    return frozenset(out)


def parse_disposition(
    payload: Mapping[str, object],
    *,
    today: date,
    now: datetime,
    custom_codes: Collection[str] = (),
    default_currency: str | None = None,
) -> Disposition:
    """A ``Disposition`` from a decoded JSON object, or ``DispositionError``.

    ``today`` is the debtor's date (a promise due today is fine); ``now`` is tz-aware.
    """
    known = {"code", "note", "amount", "currency", "due", "callback_at", "callback_mine"}
    unknown = sorted(set(payload) - known)
    if unknown:
        raise DispositionError(unknown[0], f"unknown field; expected one of {sorted(known)}")
    code = payload.get("code")
    if not isinstance(code, str) or not code:
        raise DispositionError("code", "required: a disposition code")
    if code not in STANDARD_CODES and code not in custom_codes:
        allowed = sorted([*STANDARD_CODES, *custom_codes])
        raise DispositionError("code", f"unknown code {code!r}; expected one of {allowed}")
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise DispositionError("note", f"a string of at most {MAX_NOTE} characters")
    amount = currency = due = callback_at = None
    if code == DispositionCode.PROMISE_TO_PAY:
        amount = _amount(payload.get("amount"))
        due = _date(payload.get("due"), today)
        currency = _currency(payload.get("currency", default_currency))
    elif code == DispositionCode.CALLBACK:
        callback_at = _moment(payload.get("callback_at"), now)
    for name in ("amount", "due", "currency") if code != DispositionCode.PROMISE_TO_PAY else ():
        if name in payload:
            raise DispositionError(name, "only a promise_to_pay carries it")
    if "callback_at" in payload and code != DispositionCode.CALLBACK:
        raise DispositionError("callback_at", "only a callback carries it")
    mine = payload.get("callback_mine", True)
    if not isinstance(mine, bool):
        raise DispositionError("callback_mine", "true or false")
    return Disposition(
        code=code,
        note=note,
        amount=amount,
        currency=currency,
        due=due,
        callback_at=callback_at,
        callback_mine=mine,
    )


def _amount(value: object) -> Decimal:
    # Strings keep cents exact; JSON numbers are accepted when they are integers or
    # floats with a clean decimal form. Never binary-float arithmetic on money.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DispositionError("amount", 'required: a positive amount (e.g. "1500.00")')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise DispositionError("amount", f"not a number: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise DispositionError("amount", "must be a positive amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise DispositionError("amount", "at most two decimals")
    return amount


def _date(value: object, today: date) -> date:
    if not isinstance(value, str):
        raise DispositionError("due", "required: the promised date as YYYY-MM-DD")
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise DispositionError("due", f"not a YYYY-MM-DD date: {value!r}") from None
    if due < today:
        raise DispositionError("due", f"{due} is in the past")
    return due


def _currency(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise DispositionError("currency", "an ISO 4217 code such as MXN or COP")
    return value


def _moment(value: object, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise DispositionError("callback_at", "required: an ISO 8601 time with its offset")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise DispositionError("callback_at", f"not an ISO 8601 time: {value!r}") from None
    if at.tzinfo is None:
        raise DispositionError("callback_at", "needs a UTC offset (e.g. -06:00)")
    if at <= now:
        raise DispositionError("callback_at", "must be in the future")
    return at
