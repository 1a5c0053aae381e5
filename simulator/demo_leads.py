"""A synthetic debtor file for the demo: ``python -m simulator.demo_leads OUT.csv``.

Mexican debtors (the demo scenario's floor works Mexico City hours): an account id,
a name, a debt in MXN, days past due and a segment derived from them, a mobile number
and, for about a third of them, a home number. Numbers are ten-digit Mexico City
numbers (+52 55 ...) drawn without repetition; the same seed writes the same file.
The columns are those ``dialer leads import`` reads (``dialer.leads_import``).
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

FIRST = (
    "María", "José", "Juan", "Guadalupe", "Luis", "Ana", "Carlos", "Rosa", "Jorge",
    "Laura", "Miguel", "Sofía", "Fernando", "Patricia", "Ricardo", "Elena",
)  # fmt: skip
LAST = (
    "Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez",
    "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Reyes",
)  # fmt: skip
COLUMNS = (
    "account", "name", "amount", "currency", "days_past_due", "segment", "phone",
    "phone_home",
)  # fmt: skip


def segment_of(days_past_due: int) -> str:
    """Collections buckets by days past due: early (1-30), mid (31-90), late (91+)."""
    if days_past_due <= 30:
        return "early"
    return "mid" if days_past_due <= 90 else "late"


BLOCK = 10_000_000  # numbers per block: files of different blocks share no number


def demo_rows(count: int, *, seed: int = 2026, block: int = 0) -> list[dict[str, str]]:
    """``block`` (0..7) picks a disjoint range of numbers and accounts, so that two
    files (two campaigns) never share a debtor's number."""
    if not 0 <= block <= 7 or count * 2 > BLOCK:
        raise ValueError("block: 0..7, and at most 5,000,000 rows per block")
    rng = random.Random(seed)
    # Distinct numbers: the contact rules count calls per number across leads.
    low = 20_000_000 + block * BLOCK
    numbers = rng.sample(range(low, low + BLOCK), count * 2)
    rows = []
    for i in range(count):
        dpd = rng.randint(1, 180)
        # Debts are right-skewed: lognormal around MXN 4,000.
        amount = round(min(250_000.0, rng.lognormvariate(8.3, 0.8)), 2)
        home = f"+5255{numbers[count + i]:08d}" if rng.random() < 0.33 else ""
        rows.append(
            {
                "account": f"MX{block}-{100000 + i}",
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}",
                "amount": f"{amount:.2f}",
                "currency": "MXN",
                "days_past_due": str(dpd),
                "segment": segment_of(dpd),
                "phone": f"+5255{numbers[i]:08d}",
                "phone_home": home,
            }
        )
    return rows


def write_demo_leads(path: Path, count: int, *, seed: int = 2026, block: int = 0) -> int:
    """Write ``count`` rows to ``path`` (UTF-8 CSV with a header); returns ``count``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(demo_rows(count, seed=seed, block=block))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--block", type=int, default=0, help="0..7: disjoint numbers")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count: must be >= 1")
    try:
        write_demo_leads(args.out, args.count, seed=args.seed, block=args.block)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {args.count} leads to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
