"""``rules.settlement``: which payments keep which promises (pure, explicit times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.settlement import (
    OpenPromise,
    PaymentCredit,
    allocate,
    overdue_unpaid,
)

D = Decimal
MADE = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 10:00 in Mexico City


def promise(
    pid: int, amount: str, due: str, *, made: datetime = MADE, cur: str = "MXN"
) -> OpenPromise:
    return OpenPromise(pid, D(amount), cur, date.fromisoformat(due), made, made.date())


def pay(
    pid: int,
    amount: str,
    on: str,
    *,
    at: datetime | None = None,
    available: str | None = None,
    cur: str = "MXN",
) -> PaymentCredit:
    return PaymentCredit(pid, D(amount), D(available or amount), cur, date.fromisoformat(on), at)


def test_a_full_payment_keeps_the_promise_at_the_payments_moment() -> None:
    at = datetime(2026, 3, 9, 18, 30, tzinfo=UTC)
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "500.00", "2026-03-09", at=at)])
    assert [(k.promise, k.payment, k.paid_at) for k in a.kept] == [(1, 7, at)]
    assert a.used == {7: D("500.00")}
    assert a.partly_paid == () and a.unpaid == ()


def test_a_partial_payment_leaves_the_promise_pending_and_consumes_nothing() -> None:
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "200.00", "2026-03-05")])
    assert a.kept == ()
    (part,) = a.partly_paid
    assert (part.promise, part.covered, part.owed, part.payments) == (
        1,
        D("200.00"),
        D("300.00"),
        (7,),
    )
    assert a.used == {}  # the next pass computes the same reservation again


def test_two_payments_complete_a_promise_the_second_is_the_completing_one() -> None:
    a = allocate(
        [promise(1, "500.00", "2026-03-10")],
        [pay(8, "300.00", "2026-03-08"), pay(7, "200.00", "2026-03-05")],
    )
    (k,) = a.kept
    assert (k.payment, k.paid_on) == (8, date(2026, 3, 8))
    assert a.used == {7: D("200.00"), 8: D("300.00")}


def test_several_promises_in_due_order_excess_carried_over() -> None:
    promises = [
        promise(2, "300.00", "2026-03-20"),
        promise(1, "300.00", "2026-03-10"),
        promise(3, "300.00", "2026-03-30"),
    ]
    a = allocate(promises, [pay(7, "700.00", "2026-03-06")])
    assert [k.promise for k in a.kept] == [1, 2]  # the one due first is served first
    (part,) = a.partly_paid
    assert (part.promise, part.covered) == (3, D("100.00"))
    assert a.used == {7: D("600.00")}


def test_excess_left_from_an_earlier_pass_keeps_a_later_promise() -> None:
    # 700 paid, 600 of it used earlier: 100 left, enough for a promise of 100.
    a = allocate(
        [promise(4, "100.00", "2026-04-10")], [pay(7, "700.00", "2026-03-06", available="100.00")]
    )
    assert [k.promise for k in a.kept] == [4]
    assert a.used == {7: D("100.00")}


def test_a_payment_made_before_the_promise_does_not_count() -> None:
    early = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)  # a minute before the promise
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "500.00", "2026-03-02", at=early)])
    assert a.kept == () and a.unpaid == (1,)
    late = MADE + timedelta(minutes=1)
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "500.00", "2026-03-02", at=late)])
    assert [k.promise for k in a.kept] == [1]


def test_a_payment_dated_the_day_the_promise_was_made_counts() -> None:
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "500.00", "2026-03-02")])
    assert [k.promise for k in a.kept] == [1]
    a = allocate([promise(1, "500.00", "2026-03-10")], [pay(7, "500.00", "2026-03-01")])
    assert a.unpaid == (1,)


def test_a_payment_in_another_currency_does_not_count() -> None:
    a = allocate(
        [promise(1, "500.00", "2026-03-10", cur="MXN")],
        [pay(7, "500.00", "2026-03-05", cur="USD")],
    )
    assert a.kept == () and a.unpaid == (1,) and a.used == {}


def test_a_used_up_payment_never_counts_twice() -> None:
    a = allocate(
        [promise(1, "100.00", "2026-03-10")],
        [pay(7, "100.00", "2026-03-05", available="0.00")],
    )
    assert a.unpaid == (1,)


def test_overdue_unpaid_counts_whole_days_after_the_due_date() -> None:
    ps = [promise(1, "1.00", "2026-03-10"), promise(2, "1.00", "2026-03-11")]
    assert overdue_unpaid(ps, (1, 2), as_of=date(2026, 3, 15), days=4) == (1,)
    assert overdue_unpaid(ps, (1, 2), as_of=date(2026, 3, 15), days=5) == ()
    assert overdue_unpaid(ps, (2,), as_of=date(2026, 3, 20), days=0) == (2,)
    with pytest.raises(ValueError, match="days"):
        overdue_unpaid(ps, (), as_of=date(2026, 3, 20), days=-1)


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="amount"):
        promise(1, "0.00", "2026-03-10")
    with pytest.raises(ValueError, match="available"):
        pay(1, "10.00", "2026-03-10", available="10.01")


amounts = st.integers(min_value=1, max_value=100_000).map(lambda c: Decimal(c) / 100)


@settings(max_examples=200, deadline=None)
@given(
    proms=st.lists(st.tuples(amounts, st.integers(0, 30), st.integers(0, 5)), max_size=6),
    pays=st.lists(st.tuples(amounts, st.integers(0, 40), st.booleans()), max_size=6),
)
def test_never_more_used_than_paid_and_kept_means_covered(
    proms: list[tuple[Decimal, int, int]], pays: list[tuple[Decimal, int, bool]]
) -> None:
    day0 = date(2026, 3, 1)
    promises = [
        OpenPromise(
            i, amt, "MXN", day0 + timedelta(days=due), MADE + timedelta(days=made),
            (MADE + timedelta(days=made)).date(),
        )
        for i, (amt, due, made) in enumerate(proms)
    ]  # fmt: skip
    credits = [
        PaymentCredit(
            100 + i, amt, amt, "MXN", day0 + timedelta(days=d),
            datetime.combine(day0 + timedelta(days=d), datetime.min.time(), UTC) if timed else None,
        )
        for i, (amt, d, timed) in enumerate(pays)
    ]  # fmt: skip
    a = allocate(promises, credits)
    by_pay = {c.id: c for c in credits}
    for pid, used in a.used.items():
        assert D(0) < used <= by_pay[pid].available
    by_promise = {p.id: p for p in promises}
    assert sum(a.used.values(), D(0)) == sum((by_promise[k.promise].amount for k in a.kept), D(0))
    decided = [k.promise for k in a.kept] + [p.promise for p in a.partly_paid] + list(a.unpaid)
    assert sorted(decided) == sorted(by_promise)
    # Idempotent: feed back what was used, settle the rest again: nothing new is kept.
    left = [
        PaymentCredit(c.id, c.amount, c.available - a.used.get(c.id, D(0)), c.currency,
                      c.paid_on, c.paid_at)
        for c in credits
    ]  # fmt: skip
    kept = {k.promise for k in a.kept}
    again = allocate([p for p in promises if p.id not in kept], left)
    assert again.kept == ()
