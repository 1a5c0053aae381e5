"""``import_file``: a debtor CSV into a campaign, streaming, validated, reported.

Pipeline: the main process reads records (``dialer.leads_import.records``) in chunks of
``CHUNK_ROWS``; validation and phone parsing (the costly part: ``phonenumbers`` takes
~20 µs a number) run in ``jobs`` worker processes, a bounded number of chunks ahead; the
main process streams every issue to the report CSV (``row,column,value,reason,action``)
and writes the validated leads (``bulk.BulkWriter``) in file order, ``batch_size`` rows a
transaction. Memory stays bounded by ``batch_size + CHUNK_ROWS × (jobs × 2 + 1)`` rows
whatever the file size.

Why large transactions: the phone-number and priority indexes take their keys in random
order, so each commit rewrites (in the WAL) about one page per row it touched once the
index outgrows the batch; 50,000 rows a commit instead of 5,000 took the writer from
6.1 to 4.0 CPU-s per 100k rows at the millionth row (``benchmarks/leads_import.py``).
A transaction of 50,000 rows holds SQLite's write lock for about a second.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dialer.issue_report import IssueReport
from dialer.leads_import import (
    Issue,
    Layout,
    PhoneRow,
    RowLead,
    RowRules,
    default_currency,
    layout_of,
    open_records,
    parse_row,
    record_batches,
    weights_from,
)
from dialer.store.bulk import POLICIES, BulkWriter
from dialer.store.store import Store, utcnow

CHUNK_ROWS = 5000  # rows a validation job gets: small enough to keep both workers busy


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportOptions:
    """``region``: default region for national numbers (None: the campaign's).
    ``on_duplicate``: merge | skip | report (see ``bulk``). ``encoding``: auto | utf-8 |
    latin-1. ``currency``: when the file has no currency column (None: the region's).
    ``batch_size``: rows per transaction (validation runs in chunks of at most
    ``CHUNK_ROWS``). ``jobs``: validation processes (0: inline;
    None: 2 for files over 8 MB, else inline). ``max_line_bytes``: longest line read."""

    region: str | None = None
    on_duplicate: str = "merge"
    encoding: str = "auto"
    currency: str | None = None
    batch_size: int = 50_000
    jobs: int | None = None
    max_line_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.on_duplicate not in POLICIES:
            raise ValueError(f"on_duplicate: expected one of {', '.join(POLICIES)}")
        if self.encoding not in ("auto", "utf-8", "latin-1"):
            raise ValueError("encoding: expected auto, utf-8 or latin-1")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
        if self.jobs is not None and self.jobs < 0:
            raise ValueError("jobs: must be >= 0")
        if self.max_line_bytes < 1024:
            raise ValueError("max_line_bytes: must be >= 1024")


@dataclass(slots=True)
class ImportResult:
    rows: int = 0  # data records read (blank lines excluded)
    leads_created: int = 0
    leads_merged: int = 0
    phones_added: int = 0
    rows_skipped: int = 0
    values_dropped: int = 0
    notes: int = 0
    issues: int = 0
    encoding: str = "utf-8"
    seconds: float = 0.0
    report: Path | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    first_issues: list[Issue] = field(default_factory=list)


def parse_batch(
    batch: list[tuple[int, list[str]]], layout: Layout, rules: RowRules
) -> tuple[list[RowLead], list[Issue]]:
    """Validate a batch (inline)."""
    leads: list[RowLead] = []
    issues: list[Issue] = []
    for row, rec in batch:
        lead, found = parse_row(rec, row, layout, rules)
        issues.extend(found)
        if lead is not None:
            leads.append(lead)
    return leads, issues


# Named tuples pickle one Python-level __reduce__ call per object (~8 µs a lead with its
# phones); plain tuples pickle in C. Batches cross the process boundary as plain tuples.
Packed = tuple[list[tuple[Any, ...]], list[Issue]]


def parse_batch_packed(
    batch: list[tuple[int, list[str]]], layout: Layout, rules: RowRules
) -> Packed:
    """Validate a batch in a worker process; the result as plain tuples."""
    leads, issues = parse_batch(batch, layout, rules)
    return [(*lead[:-1], tuple(tuple(p) for p in lead.phones)) for lead in leads], issues


def unpack(packed: Packed) -> tuple[list[RowLead], list[Issue]]:
    # ``tuple.__new__(Cls, values)`` is what ``Cls._make`` does, minus a Python-level
    # call per object (1.5 million phones and a million leads per million rows).
    rows, issues = packed
    new = tuple.__new__
    return [new(RowLead, (*r[:-1], tuple([new(PhoneRow, p) for p in r[-1]]))) for r in rows], issues


# The cyclic garbage collector: an import allocates millions of short-lived tuples and
# lists and almost no cycles, and every 700 net allocations (CPython's default gen-0
# threshold) the collector walks the young objects, and often everything held: GC was
# ~25 % of the CPU of reading, validating and unpickling (a 5,000-row chunk unpickles in
# 36 ms with it, 8 ms without). During an import the objects alive at its start are
# frozen out of collection and young collections run 100x less often; cycles (caught
# exceptions' frames) are still collected, and memory stays bounded.
_BULK_GC_THRESHOLD = (70_000, 50, 100)


@contextmanager
def bulk_gc() -> Iterator[None]:
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _worker_init() -> None:
    """Validation worker: the same collector settings for its whole life."""
    gc.freeze()
    gc.set_threshold(*_BULK_GC_THRESHOLD)


async def import_file(
    store: Store,
    campaign: str,
    path: Path,
    *,
    options: ImportOptions | None = None,
    report: Path | None = None,
    at: datetime | None = None,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``path`` into ``campaign``; the report goes to ``report`` (default:
    ``<file>.report.csv``). Raises ImportFileError for file-level problems (missing
    columns, encoding refused, no header); row-level ones are in the report."""
    opts = options or ImportOptions()
    info = await store.get_campaign(campaign)
    region = (opts.region or info.default_region).upper()
    rules = RowRules(
        region=region,
        currency=(opts.currency or info.settings.get("currency") or default_currency(region)),
        weights=weights_from(info.settings),
    )
    reading, rec_iter, header = open_records(
        path, encoding=opts.encoding, max_line_bytes=opts.max_line_bytes
    )
    report = report or path.with_name(path.name + ".report.csv")
    started = time.perf_counter()
    result = ImportResult(report=report)
    layout = layout_of(header)
    result.encoding = reading.encoding
    writer = BulkWriter(store, info.id, on_duplicate=opts.on_duplicate, at=at or utcnow())
    jobs = opts.jobs
    if jobs is None:
        jobs = min(2, os.cpu_count() or 1) if path.stat().st_size > 8 << 20 else 0

    def count_dropped(issue: Issue) -> None:
        if issue.action == "value dropped":
            result.values_dropped += 1

    out = IssueReport(report, result, count_dropped)
    seen_issues = 0

    def drain_reading() -> None:
        nonlocal seen_issues
        new = reading.issues[seen_issues:]
        seen_issues = len(reading.issues)
        out.add(new)

    pending: list[RowLead] = []
    # One transaction in flight while the next batch is collected: SQLite works (and
    # waits on the disk) in aiosqlite's thread without the GIL, so receiving and
    # unpacking the next chunks overlaps with it. Batches still commit in file order.
    in_flight: asyncio.Task[list[Issue]] | None = None

    async def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            task, in_flight = in_flight, None
            out.add(await task)
            c = writer.counts
            result.leads_created, result.leads_merged = c.leads_created, c.leads_merged
            result.phones_added = c.phones_added

    async def flush() -> None:
        nonlocal in_flight
        await settle()
        batch = pending.copy()
        pending.clear()
        in_flight = asyncio.create_task(writer.write(batch))

    async def consume(leads: list[RowLead], issues: list[Issue], n: int) -> None:
        result.rows += n
        drain_reading()
        out.add(issues)
        pending.extend(leads)
        if len(pending) >= opts.batch_size:
            await flush()
        if progress is not None:
            progress(result)

    try:
        with bulk_gc():
            batches = record_batches(rec_iter, min(opts.batch_size, CHUNK_ROWS))
            if jobs == 0:
                for batch in batches:
                    leads, issues = parse_batch(batch, layout, rules)
                    await consume(leads, issues, len(batch))
            else:
                loop = asyncio.get_running_loop()
                ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
                with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init) as pool:
                    window: deque[tuple[Future[Packed], int]] = deque()
                    for batch in batches:
                        window.append(
                            (pool.submit(parse_batch_packed, batch, layout, rules), len(batch))
                        )
                        if len(window) > jobs * 2:
                            fut, n = window.popleft()
                            leads, issues = unpack(await asyncio.wrap_future(fut, loop=loop))
                            await consume(leads, issues, n)
                    while window:
                        fut, n = window.popleft()
                        leads, issues = unpack(await asyncio.wrap_future(fut, loop=loop))
                        await consume(leads, issues, n)
            if pending:
                await flush()
            await settle()
            if progress is not None:
                progress(result)
            drain_reading()
    finally:
        if in_flight is not None:  # an error elsewhere: the batch in flight still commits,
            (done,) = await asyncio.gather(in_flight, return_exceptions=True)
            if not isinstance(done, BaseException):  # and its duplicates are reported
                out.add(done)
        out.close()
    result.seconds = time.perf_counter() - started
    return result
