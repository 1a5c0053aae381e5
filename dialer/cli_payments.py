"""``dialer leads payments FILE --campaign NAME``: record a creditor's payments, settle
the campaign's promises to pay (``dialer.store.payments``; docs/store.md, "Payments")."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dialer.cli_db import add_db_argument, run_on_store
from dialer.issue_summary import print_issue_summary
from dialer.store.payments import PaymentOptions, PaymentResult, import_payments
from dialer.store.settings import settings_for
from dialer.store.store import Store

EXIT_USAGE = 2


def add_payments_command(lsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``payments`` under ``dialer leads``."""
    pay = lsub.add_parser(
        "payments", help="record a payment file and settle promises to pay (kept / broken)"
    )
    pay.add_argument(
        "file", type=Path, help="CSV: account, amount, paid_at [, currency, reference]"
    )
    pay.add_argument("--campaign", required=True, help="campaign name")
    pay.add_argument("--report", type=Path, help="report CSV (default: FILE.report.csv)")
    pay.add_argument(
        "--close-overdue",
        type=int,
        metavar="DAYS",
        help="mark broken the pending promises with no payment due more than DAYS days "
        "before --as-of (default: off; an overdue pending promise asks for a follow-up call)",
    )
    pay.add_argument(
        "--as-of", metavar="DATE", help="ISO date for --close-overdue (default: today, UTC)"
    )
    pay.add_argument(
        "--encoding",
        choices=("auto", "utf-8", "latin-1"),
        default="auto",
        help="auto: UTF-8, else Latin-1 with a note in the report (default: auto)",
    )
    add_db_argument(pay)
    pay.set_defaults(handler=_payments)


def _payments(args: argparse.Namespace) -> int:
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        print(f"dialer leads payments: --as-of: {args.as_of!r} is not an ISO date (YYYY-MM-DD)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        settings = settings_for(args.db)
        options = PaymentOptions(
            close_overdue=args.close_overdue, as_of=as_of, encoding=args.encoding
        )
    except ValueError as exc:
        print(f"dialer leads payments: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def work(store: Store) -> int:
        result = await import_payments(
            store, args.campaign, args.file, options=options, report=args.report
        )
        summary(Console(), result)
        return 0

    return run_on_store("leads payments", settings, work)


def _money(amounts: dict[str, Decimal]) -> str:
    return ", ".join(f"{v:,} {k}" for k, v in sorted(amounts.items())) or "-"


def summary(console: Console, r: PaymentResult) -> None:
    """The counts, the issues by kind and the first issues, like the lead import's."""
    t = Table(title="payments", show_header=False)
    t.add_column("what")
    t.add_column("count", justify="right")
    st = r.settle
    for label, value in (
        ("rows read", f"{r.rows:,}"),
        ("payments recorded", f"{r.recorded:,}"),
        ("amount recorded", _money(r.recorded_amount)),
        ("duplicates skipped", f"{r.duplicates:,}"),
        ("rows skipped", f"{r.rows_skipped - r.duplicates:,}"),
        ("notes", f"{r.notes:,}"),
        ("promises kept", f"{st.kept:,}"),
        ("amount kept", _money(st.kept_amount)),
        ("promises partly paid", f"{st.partly_paid:,}"),
        ("promises broken", f"{st.broken:,}"),
        ("leads rescheduled", f"{st.leads_rescheduled:,}"),
        ("encoding", r.encoding),
        ("seconds", f"{r.seconds:.1f}"),
    ):
        t.add_row(label, value)
    console.print(t)
    print_issue_summary(console, r, noun="entries")
