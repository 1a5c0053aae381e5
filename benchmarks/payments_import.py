"""Payment import benchmark: ``--payments`` rows settling ``--promises`` promises in SQLite.

Builds (seeded) a campaign of ``--leads`` Mexican leads (through the lead import), gives
``--promises`` of them a pending promise of 100-2,000 MXN made ten days before, then
imports a payment file of ``--payments`` rows (each promise paid in one or two payments
in 80% of the cases, the rest of the rows other leads' payments, 0.1% bad rows) with
``dialer.store.payments.import_payments``, as ``dialer leads payments`` does, and then
the same file again (all duplicates). Prints the figures as one JSON object.

    python -m benchmarks.payments_import [--leads 20000] [--promises 5000] [--payments 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from dialer.store import Store, StoreSettings
from dialer.store.importer import ImportOptions, import_file
from dialer.store.models import Lead, PromiseStatus, PromiseToPay
from dialer.store.payments import import_payments

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)


def _leads(path: Path, n: int, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account", "amount", "phone"])
        for i in range(n):
            w.writerow([f"C{i:07d}", f"{rng.randint(500, 90000)}.00", f"55{10000000 + i:08d}"])


def _payments(
    path: Path, promised: list[tuple[str, int]], n: int, leads: int, rng: random.Random
) -> None:
    rows: list[list[str]] = []
    for account, amount in promised:
        if rng.random() < 0.8:
            if rng.random() < 0.5:
                rows.append([account, f"{amount}.00", "2026-03-08"])
            else:
                half = amount // 2
                rows.append([account, f"{half}.00", "2026-03-06"])
                rows.append([account, f"{amount - half}.00", "2026-03-09T11:00:00-06:00"])
    while len(rows) < n:
        rows.append([f"C{rng.randrange(leads):07d}", f"{rng.randint(50, 3000)}.00", "2026-03-07"])
    rows = rows[:n]
    for i in rng.sample(range(len(rows)), max(1, n // 1000)):
        rows[i][1] = "12,34.5"  # a bad amount
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["cuenta", "monto", "fecha_pago", "referencia"])
        for i, r in enumerate(rows):
            w.writerow([*r, f"TX{i:08d}"])


async def run(leads: int, promises: int, payments: int, work: Path) -> dict[str, object]:
    rng = random.Random(11)
    store = await Store.open(StoreSettings(url=f"sqlite+aiosqlite:///{work / 'bench.db'}"))
    try:
        await store.create_campaign("c", mode="predictive", default_region="MX", at=NOW)
        _leads(work / "leads.csv", leads, rng)
        await import_file(store, "c", work / "leads.csv", options=ImportOptions(jobs=0), at=NOW)
        chosen = rng.sample(range(leads), promises)
        promised = [(f"C{i:07d}", rng.randint(100, 2000)) for i in chosen]
        made = NOW - timedelta(days=10)
        async with store.session() as s:
            ids = {ext: lid for ext, lid in (await s.execute(select(Lead.external_id, Lead.id)))}
            s.add_all(
                PromiseToPay(
                    lead_id=ids[acc], amount=Decimal(a), currency="MXN",
                    due_date=(NOW - timedelta(days=2)).date(), status=PromiseStatus.PENDING,
                    created_at=made,
                )
                for acc, a in promised
            )  # fmt: skip
        _payments(work / "payments.csv", promised, payments, leads, rng)
        started = time.perf_counter()
        first = await import_payments(store, "c", work / "payments.csv", at=NOW)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = await import_payments(store, "c", work / "payments.csv", at=NOW)
        again_s = time.perf_counter() - started
    finally:
        await store.close()
    return {
        "leads": leads,
        "pending_promises": promises,
        "payment_rows": payments,
        "first_import_s": round(first_s, 2),
        "recorded": first.recorded,
        "rows_skipped": first.rows_skipped,
        "kept": first.settle.kept,
        "partly_paid": first.settle.partly_paid,
        "leads_rescheduled": first.settle.leads_rescheduled,
        "second_import_s": round(again_s, 2),
        "second_recorded": again.recorded,
        "second_duplicates": again.duplicates,
        "second_kept": again.settle.kept,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.payments_import")
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--promises", type=int, default=5_000)
    ap.add_argument("--payments", type=int, default=20_000)
    a = ap.parse_args(argv)
    if not 0 < a.promises <= a.leads:
        ap.error("--promises: must be within 1..--leads")
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(a.leads, a.promises, a.payments, Path(tmp)))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
