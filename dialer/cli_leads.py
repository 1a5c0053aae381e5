"""``dialer leads import|explain``: load a debtor file; show why a lead may (not) be dialled."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dialer.cli_db import add_db_argument, run_on_store
from dialer.cli_payments import add_payments_command
from dialer.issue_report import REPORT_COLUMNS
from dialer.issue_summary import print_issue_summary
from dialer.leads_import import ImportFileError, Issue, Reading, records
from dialer.phones import PhoneError, parse_phone
from dialer.store.facts import load_facts
from dialer.store.importer import ImportOptions, ImportResult, import_file
from dialer.store.policy_config import policy_for
from dialer.store.settings import settings_for
from dialer.store.store import Store
from rules.policy import explain

EXIT_USAGE = 2


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leads = sub.add_parser("leads", help="debtor files and lead eligibility")
    lsub = leads.add_subparsers(dest="leads_command", required=True)

    imp = lsub.add_parser("import", help="import a debtor CSV into a campaign")
    imp.add_argument("file", type=Path, help="CSV file (header line first)")
    imp.add_argument("--campaign", required=True, help="campaign name")
    imp.add_argument("--region", help="default region for national numbers (default: campaign's)")
    imp.add_argument(
        "--on-duplicate",
        choices=("merge", "skip", "report"),
        default="merge",
        help="same account or number as an existing lead (default: merge)",
    )
    imp.add_argument("--report", type=Path, help="report CSV (default: FILE.report.csv)")
    imp.add_argument(
        "--encoding",
        choices=("auto", "utf-8", "latin-1"),
        default="auto",
        help="auto: UTF-8, else Latin-1 with a note in the report (default: auto)",
    )
    imp.add_argument("--currency", help="currency when the file has no currency column")
    imp.add_argument("--jobs", type=int, help="validation processes (default: 2 for big files)")
    imp.add_argument("--batch-size", type=int, default=50_000, help="rows per transaction")
    add_db_argument(imp)
    imp.set_defaults(handler=_import)

    dnc = lsub.add_parser("dnc", help="import a do-not-call list (one number per line or CSV)")
    dnc.add_argument("file", type=Path, help="text or CSV file; the first column holds numbers")
    dnc.add_argument("--region", default="US", help="region for national numbers (default US)")
    dnc.add_argument("--source", help="where the list comes from (default: the file name)")
    dnc.add_argument("--report", type=Path, help="report CSV (default: FILE.report.csv)")
    add_db_argument(dnc)
    dnc.set_defaults(handler=_dnc)

    exp = lsub.add_parser("explain", help="the contact-policy verdict for a lead, rule by rule")
    exp.add_argument("lead", help="lead id or account id")
    exp.add_argument("--campaign", required=True, help="campaign name")
    exp.add_argument("--at", help="ISO time with offset (default: now)")
    add_db_argument(exp)
    exp.set_defaults(handler=_explain)

    add_payments_command(lsub)


def _import(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        settings = settings_for(args.db)
        options = ImportOptions(
            region=args.region,
            on_duplicate=args.on_duplicate,
            encoding=args.encoding,
            currency=args.currency,
            jobs=args.jobs,
            batch_size=args.batch_size,
        )
    except ValueError as exc:
        print(f"dialer leads import: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def work(store: Store) -> int:
        with err.status("importing...") as status:

            def progress(r: ImportResult) -> None:
                status.update(f"importing: {r.rows:,} rows read, {r.leads_created:,} leads")

            result = await import_file(
                store, args.campaign, args.file, options=options, report=args.report,
                progress=progress,
            )  # fmt: skip
        _summary(Console(), result)
        return 0

    return run_on_store("leads import", settings, work)


def _summary(console: Console, r: ImportResult) -> None:
    t = Table(title="lead import", show_header=False)
    t.add_column("what")
    t.add_column("count", justify="right")
    for label, value in (
        ("rows read", r.rows),
        ("leads created", r.leads_created),
        ("leads merged", r.leads_merged),
        ("phones added", r.phones_added),
        ("rows skipped", r.rows_skipped),
        ("values dropped", r.values_dropped),
        ("notes", r.notes),
    ):
        t.add_row(label, f"{value:,}")
    t.add_row("encoding", r.encoding)
    t.add_row("seconds", f"{r.seconds:.1f}")
    console.print(t)
    print_issue_summary(console, r)


def _dnc(args: argparse.Namespace) -> int:
    try:
        settings = settings_for(args.db)
    except ValueError as exc:
        print(f"dialer leads dnc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        numbers, issues = read_dnc_file(args.file, args.region.upper())
    except (ImportFileError, OSError) as exc:
        print(f"dialer leads dnc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report = args.report or args.file.with_name(args.file.name + ".report.csv")
    with report.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(REPORT_COLUMNS)
        for i in issues:
            w.writerow((i.row, i.column, i.value, i.reason, i.action))

    async def work(store: Store) -> int:
        added = 0
        source = (args.source or f"list:{args.file.name}")[:100]
        for start in range(0, len(numbers), 5000):
            added += await store.add_dnc(numbers[start : start + 5000], source=source)
        print(
            f"{len(numbers):,} numbers read, {added:,} added to the do-not-call list "
            f"({len(numbers) - added:,} already on it), {len(issues):,} lines skipped: {report}"
        )
        return 0

    return run_on_store("leads dnc", settings, work)


def read_dnc_file(path: Path, region: str) -> tuple[list[str], list[Issue]]:
    """E.164 numbers of a DNC list (first column; a header line is skipped if its first
    field is not a number), and an issue per line that is not a valid number."""
    reading = Reading()
    numbers: dict[str, None] = {}
    issues: list[Issue] = []
    for row, rec in records(path, encoding="auto", max_line_bytes=1 << 16, reading=reading):
        raw = rec[0].strip() if rec else ""
        if not raw:
            continue
        try:
            numbers[parse_phone(raw, region).e164] = None
        except PhoneError as exc:
            if row == 1 and not any(ch.isdigit() for ch in raw):
                continue  # a header
            issues.append(Issue(row, "number", raw[:60], str(exc), "row skipped"))
    return list(numbers), reading.issues + issues


def _explain(args: argparse.Namespace) -> int:
    try:
        settings = settings_for(args.db)
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        if at.tzinfo is None:
            raise ValueError("--at: needs a UTC offset, e.g. 2026-03-03T10:00-06:00")
    except ValueError as exc:
        print(f"dialer leads explain: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def work(store: Store) -> int:
        info = await store.get_campaign(args.campaign)
        lead = await store.get_lead(args.campaign, args.lead)
        policy = policy_for(info.settings)
        async with store.session() as s:
            facts, _ = await load_facts(s, [lead.id], at=at)
        f = facts[lead.id]
        print(
            f"lead {lead.id} (account {lead.external_id}, {lead.debtor_name or 'no name'}), "
            f"campaign {info.name}: status {lead.status}, next eligible "
            f"{lead.next_eligible_at:%Y-%m-%d %H:%M} UTC, priority {lead.priority:.3f}, "
            f"owner {lead.owner_agent or 'anyone'}"
        )
        if not f.phones:
            print("no active phone: the lead cannot be dialled")
        for pf in f.phones:
            for line in explain(policy.evaluate(f, pf, at=at), lead=f, phone=pf):
                print(line)
        return 0

    return run_on_store("leads explain", settings, work)
