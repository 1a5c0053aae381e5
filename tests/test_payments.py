"""``import_payments`` on real SQLite files (and once on PostgreSQL): payments recorded,
bad rows reported and skipped, duplicates, promises kept / partly paid / broken, the
follow-up call gone, and a second import changing nothing."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select

from dialer.leads_import import ImportFileError
from dialer.store import Store, StoreSettings
from dialer.store.engine import alembic_config, make_engine, upgrade
from dialer.store.models import Payment
from dialer.store.outcomes import DispositionInput, apply_disposition
from dialer.store.payments import PaymentOptions, PaymentResult, import_payments
from dialer.store.policy_config import policy_for
from dialer.store.records import NewLead, NewPhone
from rules.follow_ups import follow_ups

MX = ZoneInfo("America/Mexico_City")
MADE = datetime(2026, 3, 2, 10, 0, tzinfo=MX)  # the promises are made then
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=MX)  # the payment file is imported then
D = Decimal


async def _setup(url: str) -> tuple[Store, dict[str, int]]:
    store = await Store.open(StoreSettings(url=url))
    await store.create_campaign("c", mode="predictive", default_region="MX", at=MADE)
    accounts = ("A1", "A2", "A3", "A4", "A5")
    ids = await store.add_leads(
        "c",
        [
            NewLead(
                external_id=acc,
                debt_amount=D("5000.00"),
                currency="MXN",
                phones=(NewPhone(f"+5255123400{i:02d}", "America/Mexico_City", "MX"),),
            )
            for i, acc in enumerate(accounts)
        ],
        at=MADE,
    )
    lead = dict(zip(accounts, ids, strict=True))
    policy = policy_for({})
    for acc, amount, due in (
        ("A1", "500.00", date(2026, 3, 10)),
        ("A2", "1500.00", date(2026, 3, 10)),
        ("A3", "300.00", date(2026, 3, 1)),
        ("A5", "200.00", date(2026, 3, 5)),
        ("A5", "200.00", date(2026, 3, 20)),
    ):
        await apply_disposition(
            store,
            policy,
            lead[acc],
            DispositionInput(code="promise_to_pay", amount=D(amount), due=due),
            at=MADE,
        )
    return store, lead


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


FILE = [
    ["Cuenta", "Monto", "Fecha_Pago", "Currency", "Reference", "Branch"],
    ["A1", "500.00", "2026-03-09", "", "R1", "north"],  # keeps A1's promise
    ["A2", "1,000.00", "2026-03-08T10:00:00-06:00", "MXN", "R2", ""],  # partly pays A2's
    ["ZZZ", "10.00", "2026-03-09", "", "R3", ""],  # unknown account
    ["A4", "abc", "2026-03-09", "", "R4", ""],  # bad amount
    ["A4", "10.00", "09/03/2026", "", "R5", ""],  # bad date
    ["A4", "10.00", "2026-03-09T10:00", "", "R6", ""],  # a time without an offset
    ["A4", "10.00", "2026-04-09", "", "R7", ""],  # in the future
    ["A1", "500.00", "2026-03-09", "", "R1", ""],  # the same reference again
    ["A4", "50.00", "2026-03-09", "USD", "", ""],  # no reference, no promise
    ["A4", "50.00", "2026-03-09", "USD", "", ""],  # an equal second payment that day
    ["A5", "250.00", "2026-03-01", "", "R9", ""],  # made before the promises: not counted
    ["A3", "300.00", "2026-03-09", "USD", "R10", ""],  # A3 promised pesos, not dollars
]


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def _statuses(store: Store, lead: dict[str, int]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for acc, lid in lead.items():
        out[acc] = [p.status for p in await store.promises(lead_id=lid)]
    return out


async def _payment_rows(store: Store) -> list[tuple[int, str, Decimal, Decimal]]:
    async with store.session() as s:
        q = select(Payment.lead_id, Payment.reference, Payment.amount, Payment.allocated)
        return [tuple(r) for r in (await s.execute(q.order_by(Payment.id))).all()]  # type: ignore[misc]


def test_a_payment_file_keeps_promises_reports_bad_rows_and_imports_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    src = _write(tmp_path / "payments.csv", FILE)

    async def go() -> tuple[PaymentResult, PaymentResult, dict[str, list[str]], list[object]]:
        store, lead = await _setup(url)
        try:
            first = await import_payments(store, "c", src, at=NOW)
            kept = (await store.promises(lead_id=lead["A1"]))[0]
            assert kept.paid_at == datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # local midnight
            statuses = await _statuses(store, lead)
            payments = await _payment_rows(store)
            again = await import_payments(store, "c", src, report=tmp_path / "again.csv", at=NOW)
            assert await _statuses(store, lead) == statuses
            assert await _payment_rows(store) == payments
            return first, again, statuses, list(payments)
        finally:
            await store.close()

    first, again, statuses, payments = asyncio.run(go())
    assert (first.rows, first.recorded, first.duplicates, first.rows_skipped) == (12, 6, 1, 6)
    assert first.recorded_amount == {"MXN": D("1750.00"), "USD": D("400.00")}
    assert (first.settle.kept, first.settle.partly_paid, first.settle.broken) == (1, 1, 0)
    assert first.settle.kept_amount == {"MXN": D("500.00")}
    assert statuses == {
        "A1": ["kept"],
        "A2": ["pending"],
        "A3": ["pending"],
        "A4": [],
        "A5": ["pending", "pending"],
    }
    assert len(payments) == 6
    refs = [p[1] for p in payments]  # type: ignore[index]
    assert "auto:2026-03-09:50.00:USD#1" in refs and "auto:2026-03-09:50.00:USD#2" in refs

    entries = _report(tmp_path / "payments.csv.report.csv")
    by_row = {(e["row"], e["action"]): e for e in entries}
    assert by_row[("1", "note")]["column"] == "Branch"
    assert "no such account" in by_row[("4", "row skipped")]["reason"]
    assert by_row[("5", "row skipped")]["column"] == "Monto"
    assert "ISO date" in by_row[("6", "row skipped")]["reason"]
    assert "UTC offset" in by_row[("7", "row skipped")]["reason"]
    assert "future" in by_row[("8", "row skipped")]["reason"]
    assert "already on row 2" in by_row[("9", "duplicate skipped")]["reason"]
    assert by_row[("2", "promise kept")]["value"].startswith("promise ")
    partly = by_row[("3", "note")]["reason"]
    assert "1000.00 paid, 500.00 still owed; left pending" in partly
    assert "made before the lead's pending promises" in by_row[("12", "note")]["reason"]
    assert "in USD; the lead's pending promises are in MXN" in by_row[("13", "note")]["reason"]
    assert [int(e["row"]) for e in entries[:7]] == sorted(int(e["row"]) for e in entries[:7])

    # The second import: every recorded row is a duplicate, nothing else happens.
    assert (again.recorded, again.duplicates) == (0, 7)
    assert (again.settle.kept, again.settle.broken) == (0, 0)
    assert again.settle.partly_paid == 1  # still reported: A2 still owes 500


def test_the_follow_up_is_gone_once_the_promise_is_kept(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    src = _write(
        tmp_path / "p.csv",
        [
            ["account", "amount", "date"],
            ["A2", "1000.00", "2026-03-05"],
            ["A2", "500", "2026-03-06"],
        ],
    )

    # Before the due date: the promise holds the lead until the day after it.
    early = datetime(2026, 3, 9, 12, 0, tzinfo=MX)

    async def go() -> tuple[int, int, str, datetime | None]:
        store, lead = await _setup(url)
        try:
            before = await store.lead_facts(lead["A2"], at=early)
            held = (await store.get_lead("c", "A2")).next_eligible_at
            assert held == datetime(2026, 3, 11, 7, 0, tzinfo=MX)  # the follow-up's window
            await import_payments(store, "c", src, at=early)
            after = await store.lead_facts(lead["A2"], at=early)
            # Kept: no more hold, the lead is dialable again from now.
            assert (await store.get_lead("c", "A2")).next_eligible_at == early
            (p,) = await store.promises(lead_id=lead["A2"])
            return len(follow_ups(before, MX)), len(follow_ups(after, MX)), p.status, p.paid_at
        finally:
            await store.close()

    n_before, n_after, status, paid_at = asyncio.run(go())
    assert (n_before, n_after, status) == (1, 0, "kept")
    assert paid_at == datetime(2026, 3, 6, 6, 0, tzinfo=UTC)  # the completing payment's day


def test_close_overdue_breaks_only_unpaid_promises_past_the_grace(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'o.db'}"
    src = _write(
        tmp_path / "p.csv", [["account", "amount", "paid_at"], ["A5", "100.00", "2026-03-03"]]
    )

    async def go() -> tuple[list[dict[str, list[str]]], list[PaymentResult]]:
        store, lead = await _setup(url)
        seen = []
        results = []
        try:
            for options in (
                PaymentOptions(),  # off by default
                PaymentOptions(close_overdue=12, as_of=date(2026, 3, 12)),  # A3 due 11 days ago
                PaymentOptions(close_overdue=5, as_of=date(2026, 3, 12)),
            ):
                results.append(await import_payments(store, "c", src, options=options, at=NOW))
                seen.append(await _statuses(store, lead))
            return seen, results
        finally:
            await store.close()

    seen, results = asyncio.run(go())
    assert seen[0]["A3"] == ["pending"] and seen[1]["A3"] == ["pending"]
    # A3 (due 1 March, 11 days before) and A2 (due 10 March: 2 days) at 5 days' grace:
    assert seen[2]["A3"] == ["broken"] and seen[2]["A2"] == ["pending"]
    # A5's first promise (due 5 March, 7 days before) is partly paid: left pending, noted.
    assert seen[2]["A5"] == ["pending", "pending"]
    assert results[2].settle.broken == 1
    report = _report(tmp_path / "p.csv.report.csv")
    assert any("partly paid: left pending" in e["reason"] for e in report)
    assert any(e["action"] == "promise broken" for e in report)


def test_file_level_errors(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"
    missing = _write(tmp_path / "m.csv", [["account", "amount"], ["A1", "1.00"]])
    twice = _write(tmp_path / "t.csv", [["account", "cuenta", "amount", "date"]])

    async def go() -> None:
        store, _ = await _setup(url)
        try:
            with pytest.raises(ImportFileError, match=r"missing required column.*paid_at"):
                await import_payments(store, "c", missing, at=NOW)
            with pytest.raises(ImportFileError, match="all mean 'account'"):
                await import_payments(store, "c", twice, at=NOW)
            with pytest.raises(ImportFileError, match="no such file"):
                await import_payments(store, "c", tmp_path / "nope.csv", at=NOW)
        finally:
            await store.close()

    asyncio.run(go())
    with pytest.raises(ValueError, match="close_overdue"):
        PaymentOptions(close_overdue=-1)


@pytest.mark.asyncio
async def test_payments_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    src = _write(tmp_path / "payments.csv", FILE)
    store, lead = await _setup(pg_url)
    try:
        first = await import_payments(store, "c", src, at=NOW)
        again = await import_payments(store, "c", src, at=NOW)
        assert (first.recorded, first.settle.kept) == (6, 1)
        assert (again.recorded, again.settle.kept) == (0, 0)
        assert (await _statuses(store, lead))["A1"] == ["kept"]
        async with store.session() as s:
            n = (await s.execute(select(func.count()).select_from(Payment))).scalar_one()
        assert n == 6
    finally:
        await store.close()


def test_a_database_at_0003_gains_the_payments_table_and_can_go_back(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{db}"

    async def go() -> tuple[tuple[str | None, str | None], list[str], list[str]]:
        settings = StoreSettings(url=url, auto_migrate=False)
        engine = make_engine(settings)
        try:
            await upgrade(engine, "0003")
            moved = await upgrade(engine)
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            async with engine.begin() as conn:
                await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            async with engine.connect() as conn:
                after = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return moved, tables, after

    moved, tables, after = asyncio.run(go())
    assert moved == ("0003", "0004")
    assert "payments" in tables and "payments" not in after
