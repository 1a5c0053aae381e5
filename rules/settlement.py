"""Settling promises to pay against recorded payments: which promise a payment keeps.

Pure: the store hands in a lead's pending promises and its payments with the part not yet
used (``PaymentCredit.available``) and writes back what ``allocate`` returns.

The rule (docs/store.md, "Payments"), per lead:

- pending promises are taken in order of due date (then creation time, then id: the
  promise falling due first is served first, as a collector applies money to the oldest
  obligation);
- each is covered by the lead's payments *in the same currency* made *on or after the
  promise was made*, oldest payment first; a payment known only by its date counts from
  that local day, so a payment dated the day the promise was made counts for it;
- a promise whose amount is fully covered is *kept*; its ``paid_at`` is the moment of the
  payment that completed it. The parts used are consumed: a payment never counts twice,
  and what is left of it is carried over to the next promise;
- a promise only partly covered stays *pending* (reported as partly paid); the money
  reserved for it in this pass is not offered to later promises, and is not consumed
  either: the next pass, with more payments, computes the same reservation again, so the
  result depends only on the rows, never on how many times it ran;
- kept and broken promises are never handed in: nothing moves back from kept.

``overdue_unpaid`` picks the promises ``--close-overdue`` marks broken: pending, no
payment towards them at all, due more than ``days`` days before the day of reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from rules.localtime import to_utc

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class OpenPromise:
    """A pending promise: ``amount`` in ``currency`` by the local date ``due``, made at
    ``made_at`` (tz-aware), on the debtor's local date ``made_on``."""

    id: int
    amount: Decimal
    currency: str
    due: date
    made_at: datetime
    made_on: date

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"OpenPromise.amount: must be > 0, got {self.amount}")
        if self.made_at.tzinfo is None:
            raise ValueError("OpenPromise.made_at: must be timezone-aware")


@dataclass(frozen=True, slots=True)
class PaymentCredit:
    """A payment with ``available`` (of ``amount``) not yet used to keep a promise.

    ``paid_on`` is the debtor's local date of the payment; ``paid_at`` its moment when
    the payment file gave one (tz-aware), else None (a date alone)."""

    id: int
    amount: Decimal
    available: Decimal
    currency: str
    paid_on: date
    paid_at: datetime | None

    def __post_init__(self) -> None:
        if not ZERO <= self.available <= self.amount:
            raise ValueError(
                f"PaymentCredit.available: {self.available} is not within 0..{self.amount}"
            )
        if self.paid_at is not None and self.paid_at.tzinfo is None:
            raise ValueError("PaymentCredit.paid_at: must be timezone-aware")

    def counts_for(self, promise: OpenPromise) -> bool:
        """Same currency, and made on or after the promise was made."""
        if self.currency != promise.currency:
            return False
        if self.paid_at is None:
            return self.paid_on >= promise.made_on
        return to_utc(self.paid_at) >= to_utc(promise.made_at)


@dataclass(frozen=True, slots=True)
class KeptPromise:
    """``promise`` is fully covered; ``payment`` completed it (its moment, or None for a
    payment known only by its date ``paid_on``)."""

    promise: int
    payment: int
    paid_on: date
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class PartlyPaid:
    """``promise`` of ``amount``: ``covered`` paid so far by ``payments``; stays pending."""

    promise: int
    amount: Decimal
    covered: Decimal
    currency: str
    payments: tuple[int, ...]

    @property
    def owed(self) -> Decimal:
        return self.amount - self.covered


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one pass decided. ``used``: payment id -> amount newly consumed by kept
    promises (add it to what the payment had used). ``unpaid``: pending promises no
    payment went to at all."""

    kept: tuple[KeptPromise, ...]
    partly_paid: tuple[PartlyPaid, ...]
    unpaid: tuple[int, ...]
    used: dict[int, Decimal]


def _promise_order(p: OpenPromise) -> tuple[date, datetime, int]:
    return (p.due, to_utc(p.made_at), p.id)


def _payment_order(p: PaymentCredit) -> tuple[date, int, datetime | None, int]:
    # By local date, then a date-only payment before a timed one of the same day (it may
    # be earlier; the order only decides which payment completes a promise), then moment.
    return (p.paid_on, 0 if p.paid_at is None else 1, p.paid_at and to_utc(p.paid_at), p.id)


def allocate(promises: list[OpenPromise], payments: list[PaymentCredit]) -> Allocation:
    """Settle one lead's pending ``promises`` with its ``payments`` (see the module
    docstring). Amounts are in the payments' currency units (cents exact)."""
    left = {p.id: p.available for p in payments}
    ordered = sorted(payments, key=_payment_order)
    kept: list[KeptPromise] = []
    partly: list[PartlyPaid] = []
    unpaid: list[int] = []
    used: dict[int, Decimal] = {}
    for promise in sorted(promises, key=_promise_order):
        need = promise.amount
        taken: list[tuple[PaymentCredit, Decimal]] = []
        for pay in ordered:
            if need <= 0:
                break
            if left[pay.id] <= 0 or not pay.counts_for(promise):
                continue
            part = min(left[pay.id], need)
            taken.append((pay, part))
            left[pay.id] -= part  # reserved for this promise in this pass
            need -= part
        if need <= 0:
            last = taken[-1][0]
            kept.append(KeptPromise(promise.id, last.id, last.paid_on, last.paid_at))
            for pay, part in taken:
                used[pay.id] = used.get(pay.id, ZERO) + part
        elif taken:
            covered = promise.amount - need
            ids = tuple(pay.id for pay, _ in taken)
            partly.append(PartlyPaid(promise.id, promise.amount, covered, promise.currency, ids))
        else:
            unpaid.append(promise.id)
    return Allocation(tuple(kept), tuple(partly), tuple(unpaid), used)


def overdue_unpaid(
    promises: list[OpenPromise], unpaid: tuple[int, ...], *, as_of: date, days: int
) -> tuple[int, ...]:
    """The promises of ``unpaid`` due more than ``days`` days before ``as_of`` (a due
    date of ``as_of - days`` is not yet overdue), in promise order."""
    if days < 0:
        raise ValueError(f"days: must be >= 0, got {days}")
    limit = as_of - timedelta(days=days)
    ids = set(unpaid)
    return tuple(
        p.id for p in sorted(promises, key=_promise_order) if p.id in ids and p.due < limit
    )
