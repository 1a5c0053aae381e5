"""The per-row report of a file import (leads, payments, DNC lists): one CSV row per
issue, ``row,column,value,reason,action``, streamed as the file is read, and the counts
an import's result carries (``dialer.issue_summary`` prints them)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from dialer.leads_import import Issue

REPORT_COLUMNS = ("row", "column", "value", "reason", "action")
SKIPPED = ("row skipped", "duplicate skipped")


class IssueCounts(Protocol):
    """What an import's result counts of its issues."""

    issues: int
    rows_skipped: int
    notes: int
    reasons: Counter[str]
    first_issues: list[Issue]
    report: Path | None


class IssueReport:
    """Writes the report file and counts each issue in ``result``; ``extra`` counts the
    actions only one kind of import has (values dropped, duplicates)."""

    def __init__(
        self, path: Path, result: IssueCounts, extra: Callable[[Issue], None] | None = None
    ) -> None:
        self.fh = path.open("w", newline="", encoding="utf-8")
        self.w = csv.writer(self.fh)
        self.w.writerow(REPORT_COLUMNS)
        self.result = result
        self.extra = extra

    def add(self, issues: Iterable[Issue]) -> None:
        r = self.result
        for i in issues:
            self.w.writerow((i.row, i.column, i.value, i.reason, i.action))
            r.issues += 1
            r.reasons[f"{i.action} / {i.column or '(row)'}"] += 1
            if i.action in SKIPPED:
                r.rows_skipped += 1
            elif i.action == "note":
                r.notes += 1
            if self.extra is not None:
                self.extra(i)
            if len(r.first_issues) < 10:
                r.first_issues.append(i)

    def close(self) -> None:
        self.fh.close()
