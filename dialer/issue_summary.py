"""The import report's summary on the terminal (rich tables), for the CLI commands
that import files: entries by kind, the first entries, where the report is."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from dialer.issue_report import REPORT_COLUMNS, IssueCounts


def print_issue_summary(console: Console, r: IssueCounts, *, noun: str = "issues") -> None:
    """The report's entries by kind, its first entries and where the file is."""
    if r.reasons:
        reasons = Table(title=f"{noun} by kind")
        reasons.add_column("action / column")
        reasons.add_column("rows", justify="right")
        for reason, n in r.reasons.most_common(15):
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
        first = Table(title=f"first {noun}")
        for col in REPORT_COLUMNS:
            first.add_column(col)
        for i in r.first_issues:
            first.add_row(str(i.row), i.column, i.value, i.reason, i.action)
        console.print(first)
    console.print(f"report: {r.report} ({r.issues:,} entries)")
