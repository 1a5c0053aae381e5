"""Lead import benchmark: a generated debtor file of ``--rows`` rows into SQLite.

Generates (seeded, deterministic) a CSV shaped like a real collections portfolio:
account, name, amount, currency, days past due, segment, owner (10% of rows), two phone
columns (the second filled in half the rows; Mexican numbers, national format with
spaces in a third of them), a branch and a product column (custom fields), and 0.1% of
rows deliberately bad (bad amount, bad number), then imports it with
``dialer.store.importer.import_file`` into a fresh SQLite file, as
``dialer leads import`` does. Target: 1,000,000 rows in <= 60 s.

Writes ``leads_import.md`` and ``leads_import.json`` to ``--out`` and prints the table.

    python -m benchmarks.leads_import [--rows 1000000] [--jobs N] [--out DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dialer.store import Store, StoreSettings
from dialer.store.importer import ImportOptions, import_file

SEGMENTS = ("early", "mid", "late", "legal")
BRANCHES = ("Centro", "Norte", "Sur", "Bajío", "Occidente")


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """Write the file; returns how many rows are deliberately bad."""
    rng = random.Random(seed)
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["account", "name", "amount", "currency", "dpd", "segment", "owner",
             "phone", "phone_home", "branch", "product"]
        )  # fmt: skip
        for i in range(rows):
            area = rng.choice(("55", "33", "81", "664", "222"))
            rest = 10 - len(area)
            n1 = f"{area}{rng.randrange(10 ** (rest - 1), 10**rest)}"
            if i % 3 == 0:
                n1 = f"{n1[:2]} {n1[2:6]} {n1[6:]}"
            n2 = (
                f"+52{rng.choice(('55', '33', '81'))}{rng.randrange(10**7, 10**8)}" if i % 2 else ""
            )
            amount = f"{rng.uniform(100, 250_000):.2f}"
            if i % 1000 == 999:
                bad += 1
                if rng.random() < 0.5:
                    amount = "n/a"
                else:
                    n1, n2 = "12", ""
            w.writerow(
                [f"ACC{i:08d}", f"Debtor {i}", amount, "MXN", rng.randrange(0, 720),
                 rng.choice(SEGMENTS), f"A{rng.randrange(50):03d}" if i % 10 == 0 else "",
                 n1, n2, rng.choice(BRANCHES), rng.choice(("card", "loan", "auto"))]
            )  # fmt: skip
    return bad


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process (reading, writing: its SQLite thread
    included) and of its finished children (the validation workers, joined when the
    import ends)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


async def _import(db: Path, csv_path: Path, jobs: int | None) -> dict[str, Any]:
    store = await Store.open(StoreSettings(url=str(db)))
    try:
        await store.create_campaign("bench", mode="predictive", default_region="MX")
        cpu_before = _cpu()
        t0 = time.perf_counter()
        r = await import_file(
            store,
            "bench",
            csv_path,
            options=ImportOptions(jobs=jobs),
            report=csv_path.with_suffix(".report.csv"),
            at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        )
        seconds = time.perf_counter() - t0
        cpu_after = _cpu()
        counts = await store.lead_counts("bench")
    finally:
        await store.close()
    return {
        "import_seconds": round(seconds, 2),
        "import_cpu_seconds": round(sum(cpu_after) - sum(cpu_before), 1),
        "cpu_seconds_main_process": round(cpu_after[0] - cpu_before[0], 1),
        "cpu_seconds_validation_workers": round(cpu_after[1] - cpu_before[1], 1),
        "rows_per_second": round(r.rows / seconds),
        "rows": r.rows,
        "leads_created": r.leads_created,
        "phones_added": r.phones_added,
        "rows_skipped": r.rows_skipped,
        "values_dropped": r.values_dropped,
        "report_entries": r.issues,
        "leads_in_db": sum(counts.values()),
        "db_mb": round(db.stat().st_size / 2**20, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.leads_import", description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=None, help="validation processes")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--keep", type=Path, help="keep the CSV and database in this directory")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv_path = work / "leads.csv"
        db = work / "bench.db"
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            f.unlink(missing_ok=True)
        t0 = time.perf_counter()
        bad = generate(csv_path, args.rows)
        gen_s = time.perf_counter() - t0
        result = asyncio.run(_import(db, csv_path, args.jobs))
        result.update(
            {
                "generated_rows": args.rows,
                "deliberately_bad_rows": bad,
                "csv_mb": round(csv_path.stat().st_size / 2**20, 1),
                "generate_seconds": round(gen_s, 1),
                "jobs": args.jobs if args.jobs is not None else "auto",
                "peak_rss_mb_main": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
                "cpus": os.cpu_count(),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "target_seconds": 60,
                "command": "python -m benchmarks.leads_import " + " ".join(argv or sys.argv[1:]),
            }
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leads_import.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Lead import benchmark",
        "",
        f"`{result['command'].strip()}` on {result['cpus']} CPUs (shared machine), "
        f"Python {result['python']}, SQLite (WAL).",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in result.items() if k not in ("command",)),
        "",
    ]
    (args.out / "leads_import.md").write_text("\n".join(lines))
    print("\n".join(lines))
    ok = result["import_seconds"] <= 60 and result["leads_created"] == args.rows - bad
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
