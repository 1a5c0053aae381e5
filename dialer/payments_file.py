"""Reading a payment file (CSV) into validated payment rows: row by row, never silent.

The file is read like a debtor file (``dialer.leads_import.records``: encoding ``auto``
with a note when it is Latin-1, a length cap per line, CSV errors reported). Columns
(header names case-insensitive; spaces and dashes count as underscores):

- ``account`` (required; the lead import's aliases: ``account_id``, ``external_id``,
  ``cuenta``...): the creditor's account id of the lead;
- ``amount`` (required; the lead import's aliases and parsing, ``1234.56`` or
  ``1,234.56``, plus ``paid_amount``/``payment_amount``/``pago``): must be > 0;
- ``paid_at`` (required; aliases ``date``, ``payment_date``, ``fecha_pago``): an ISO
  date (``2026-03-05``: that local day of the debtor) or an ISO date-time with a UTC
  offset (``2026-03-05T14:30:00-06:00``; ``Z`` for UTC). A time without an offset is
  refused: the debtor's zone and the creditor's may differ;
- ``currency`` (optional; default: the lead's), ``reference`` (optional; aliases
  ``ref``, ``payment_id``, ``referencia``): the creditor's payment id.

Other columns are reported once (a note) and ignored. Each problem is a
``dialer.leads_import.Issue``; a row with no account, a bad amount or a bad date is
skipped, the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from dialer.leads_import import _AMOUNT as AMOUNT_PATTERN
from dialer.leads_import import (
    ALIASES,
    MAX_AMOUNT,
    ImportFileError,
    Issue,
    _short,
    header_roles,
)

PAYMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "account": ALIASES["account"],
    "amount": (*ALIASES["amount"], "paid_amount", "payment_amount", "pago"),
    "paid_at": ("paid_at", "date", "payment_date", "fecha_pago", "paid_on"),
    "currency": ALIASES["currency"],
    "reference": ("reference", "ref", "payment_id", "payment_reference", "referencia"),
}
REQUIRED = ("account", "amount", "paid_at")
MAX_REFERENCE = 100


@dataclass(frozen=True, slots=True)
class PaymentLayout:
    header: tuple[str, ...]
    fields: dict[str, int]


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """One valid row. ``paid_on`` is set for a date alone (the debtor's local day),
    ``paid_at`` for a moment (tz-aware); exactly one of them is set."""

    row: int
    account: str
    amount: Decimal
    currency: str | None
    paid_on: date | None
    paid_at: datetime | None
    reference: str | None


def payment_layout(header: list[str]) -> tuple[PaymentLayout, list[Issue]]:
    """Map header names to roles; ImportFileError naming missing or repeated columns.
    The issues are notes about ignored columns."""
    _names, fields = header_roles(header, PAYMENT_ALIASES)
    missing = [r for r in REQUIRED if r not in fields]
    if missing:
        raise ImportFileError(
            f"missing required column(s): {', '.join(missing)}; the header has: {', '.join(header)}"
        )
    used = set(fields.values())
    notes = [
        Issue(1, header[i], "", "not a payment column (account, amount, paid_at, currency, "
              "reference)", "note")
        for i in range(len(header)) if i not in used
    ]  # fmt: skip
    return PaymentLayout(tuple(header), fields), notes


def parse_paid(raw: str) -> tuple[date | None, datetime | None]:
    """``2026-03-05`` -> (that date, None); ``2026-03-05T14:30-06:00`` -> (None, the
    moment). ValueError with the reason for anything else."""
    if not raw:
        raise ValueError("empty payment date")
    if len(raw) <= 10:
        try:
            return date.fromisoformat(raw), None
        except ValueError:
            raise ValueError("not an ISO date (YYYY-MM-DD)") from None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("not an ISO date or date-time") from None
    if at.tzinfo is None:
        raise ValueError("a date-time needs a UTC offset (e.g. -06:00 or Z)")
    return None, at


def parse_payment(
    record: list[str], row: int, layout: PaymentLayout
) -> tuple[PaymentRow | None, Issue | None]:
    """Validate one record: the row, or the issue that skips it."""
    header = layout.header
    f = layout.fields

    def skip(role: str, value: str, reason: str) -> tuple[None, Issue]:
        column = header[f[role]] if role in f else ""
        return None, Issue(row, column, _short(value), reason, "row skipped")

    if len(record) != len(header):
        return None, Issue(
            row, "", "", f"expected {len(header)} fields, found {len(record)}", "row skipped"
        )

    def get(role: str) -> str:
        i = f.get(role)
        return record[i].strip() if i is not None else ""

    account = get("account")
    if not account:
        return skip("account", "", "empty account id")
    if len(account) > 100:
        return skip("account", account, "account id longer than 100 characters")
    raw_amount = get("amount")
    if not AMOUNT_PATTERN.match(raw_amount):
        return skip("amount", raw_amount, "not an amount like 1234.56 (> 0)")
    amount = Decimal(raw_amount.replace(",", ""))
    if amount <= 0:
        return skip("amount", raw_amount, "a payment must be > 0")
    if amount >= MAX_AMOUNT:
        return skip("amount", raw_amount, "amount too large (>= 10^12)")
    raw_paid = get("paid_at")
    try:
        paid_on, paid_at = parse_paid(raw_paid)
    except ValueError as exc:
        return skip("paid_at", raw_paid, str(exc))
    currency = get("currency").upper() or None
    if currency is not None and not (
        len(currency) == 3 and currency.isascii() and currency.isalpha()
    ):
        return skip("currency", currency, "currency is not a 3-letter ISO code")
    reference = get("reference") or None
    if reference is not None and len(reference) > MAX_REFERENCE:
        return skip("reference", reference, f"reference longer than {MAX_REFERENCE} characters")
    return PaymentRow(row, account, amount, currency, paid_on, paid_at, reference), None
