"""``import_payments``: a creditor's payment file into the store, then promises settled.

Two steps, each its own transaction(s):

1. record: every valid row whose account is a lead of the campaign becomes a row of
   ``payments`` (chunks of ``CHUNK_ROWS``). The same reference twice for a lead (in the
   store already, or earlier in the file) is one payment: the row is reported as a
   duplicate and skipped, so importing a file twice changes nothing. A row without a
   reference gets one derived from its date, amount, currency and its rank among the
   file's identical rows for that lead (``auto:2026-03-05:150.00:MXN#1``): two equal
   payments the same day in one file are two payments, the same file again is none;
2. settle (``settle_campaign``): every pending promise of the campaign is settled with
   its lead's payments by ``rules.settlement.allocate`` (one transaction, the rows locked
   on PostgreSQL); kept promises get ``status = kept`` and ``paid_at``, the payments'
   ``allocated`` grows by what kept them; with ``close_overdue`` set, unpaid promises due
   more than that many days before ``as_of`` become ``broken``. Leads whose promises
   changed are rescheduled by the campaign's contact policy (a kept promise no longer
   holds the lead nor asks for a follow-up call).

A payment known only by its date is stored with ``paid_on`` (the debtor's local date)
and ``paid_at`` NULL; a promise it keeps gets ``paid_at`` = the start of that local day
(UTC). The debtor's zone is the zone of the lead's first phone (UTC if it has none), as
for the rules' promise dates.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.issue_report import IssueReport
from dialer.leads_import import Issue, open_records, record_batches
from dialer.payments_file import PaymentLayout, PaymentRow, parse_payment, payment_layout
from dialer.phones import valid_zone
from dialer.store.errors import StoreError
from dialer.store.models import Lead, LeadStatus, Payment, Phone, PromiseStatus, PromiseToPay
from dialer.store.policy_config import policy_for
from dialer.store.store import Store, _at
from dialer.store.supply import reschedule
from rules.localtime import local_date, start_of_day
from rules.policy import ContactPolicy
from rules.settlement import Allocation, OpenPromise, PaymentCredit, allocate, overdue_unpaid

CHUNK_ROWS = 5000
T = TypeVar("T")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentOptions:
    """``close_overdue``: days after the due date past which an unpaid pending promise
    becomes broken (None: never, the default: an overdue pending promise is what asks
    for the follow-up call). ``as_of``: the day ``close_overdue`` counts from (None:
    today, UTC). ``encoding``: auto | utf-8 | latin-1. ``max_line_bytes``: longest
    line read."""

    close_overdue: int | None = None
    as_of: date | None = None
    encoding: str = "auto"
    max_line_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.close_overdue is not None and self.close_overdue < 0:
            raise ValueError("close_overdue: must be >= 0 days")
        if self.encoding not in ("auto", "utf-8", "latin-1"):
            raise ValueError("encoding: expected auto, utf-8 or latin-1")
        if self.max_line_bytes < 1024:
            raise ValueError("max_line_bytes: must be >= 1024")


@dataclass(slots=True)
class SettleResult:
    kept: int = 0
    kept_amount: dict[str, Decimal] = field(default_factory=dict)
    partly_paid: int = 0
    broken: int = 0
    leads_rescheduled: int = 0
    issues: list[Issue] = field(default_factory=list)


@dataclass(slots=True)
class PaymentResult:
    rows: int = 0  # data records read (blank lines excluded)
    recorded: int = 0
    recorded_amount: dict[str, Decimal] = field(default_factory=dict)
    duplicates: int = 0
    rows_skipped: int = 0  # duplicates included
    notes: int = 0
    settle: SettleResult = field(default_factory=SettleResult)
    issues: int = 0
    encoding: str = "utf-8"
    seconds: float = 0.0
    report: Path | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    first_issues: list[Issue] = field(default_factory=list)


async def import_payments(
    store: Store,
    campaign: str,
    path: Path,
    *,
    options: PaymentOptions | None = None,
    report: Path | None = None,
    at: datetime | None = None,
) -> PaymentResult:
    """Record ``path``'s payments for ``campaign`` and settle its promises (module
    docstring). The report goes to ``report`` (default ``<file>.report.csv``). Raises
    ImportFileError for file-level problems; row-level ones are in the report."""
    opts = options or PaymentOptions()
    now = _at(at)
    info = await store.get_campaign(campaign)
    policy = policy_for(info.settings)  # a bad campaign config stops here, before writing
    reading, rec_iter, header = open_records(
        path, encoding=opts.encoding, max_line_bytes=opts.max_line_bytes
    )
    report = report or path.with_name(path.name + ".report.csv")
    started = time.perf_counter()
    result = PaymentResult(report=report)
    layout, notes = payment_layout(header)
    result.encoding = reading.encoding

    def count_duplicate(issue: Issue) -> None:
        if issue.action == "duplicate skipped":
            result.duplicates += 1

    out = IssueReport(report, result, count_duplicate)
    seen_reading = 0
    # (lead id, reference) recorded from this file, and the rank of reference-less rows.
    in_file: dict[tuple[int, str], PaymentRow] = {}
    ranks: Counter[tuple[int, str]] = Counter()
    rows_of: dict[int, int] = {}  # payment id -> file row
    try:
        out.add(notes)
        for chunk in record_batches(rec_iter, CHUNK_ROWS):
            result.rows += len(chunk)
            out.add(reading.issues[seen_reading:])
            seen_reading = len(reading.issues)
            rows: list[PaymentRow] = []
            found: list[Issue] = []
            for row, rec in chunk:
                parsed, issue = parse_payment(rec, row, layout)
                if issue is not None:
                    found.append(issue)
                elif parsed is not None:
                    rows.append(parsed)
            try:
                async with store.session() as s:
                    found += await _record(
                        s, info.id, info.name, layout, rows, source=path.name, now=now,
                        in_file=in_file, ranks=ranks, rows_of=rows_of, result=result,
                    )  # fmt: skip
            except IntegrityError:
                # Only a concurrent import of the same payments gets here (the duplicates
                # are looked up first): this chunk was rolled back, the earlier ones stand.
                raise StoreError(
                    f"payments of rows {chunk[0][0]}-{chunk[-1][0]} were recorded by another "
                    "import at the same time; run this one again (it skips what is recorded)"
                ) from None
            out.add(sorted(found, key=lambda i: i.row))  # file order in the report
        out.add(reading.issues[seen_reading:])
        result.settle = await settle_campaign(
            store,
            campaign,
            at=now,
            close_overdue=opts.close_overdue,
            as_of=opts.as_of,
            rows_of=rows_of,
            policy=policy,
        )
        out.add(result.settle.issues)
    finally:
        out.close()
    result.seconds = time.perf_counter() - started
    return result


async def _zones(s: AsyncSession, lead_ids: Iterable[int]) -> dict[int, ZoneInfo]:
    """Each lead's zone: its first phone's (active or not), UTC without a phone."""
    ids = list(set(lead_ids))
    zones: dict[int, ZoneInfo] = {}
    for start in range(0, len(ids), CHUNK_ROWS):
        part = ids[start : start + CHUNK_ROWS]
        q = (
            select(Phone.lead_id, Phone.time_zone)
            .where(Phone.lead_id.in_(part))
            .order_by(Phone.lead_id, Phone.priority, Phone.id)
        )
        for lid, tz in (await s.execute(q)).all():
            if lid not in zones and valid_zone(tz):
                zones[lid] = ZoneInfo(tz)
    return {lid: zones.get(lid, ZoneInfo("UTC")) for lid in ids}


def _derived_reference(r: PaymentRow, currency: str) -> str:
    when = r.paid_on.isoformat() if r.paid_on is not None else _iso(r.paid_at)
    return f"auto:{when}:{r.amount.quantize(Decimal('0.01'))}:{currency}"


def _iso(at: datetime | None) -> str:
    assert at is not None
    return at.isoformat()


async def _record(
    s: AsyncSession,
    campaign_id: int,
    campaign: str,
    layout: PaymentLayout,
    rows: list[PaymentRow],
    *,
    source: str,
    now: datetime,
    in_file: dict[tuple[int, str], PaymentRow],
    ranks: Counter[tuple[int, str]],
    rows_of: dict[int, int],
    result: PaymentResult,
) -> list[Issue]:
    """Insert one chunk's valid rows; the issues of the rows not recorded."""
    issues: list[Issue] = []
    if not rows:
        return issues
    header = layout.header
    ref_col = header[layout.fields["reference"]] if "reference" in layout.fields else "reference"
    account_col = header[layout.fields["account"]]
    date_col = header[layout.fields["paid_at"]]
    accounts = {r.account for r in rows}
    leads = {
        ext: (lid, cur)
        for lid, ext, cur in (
            await s.execute(
                select(Lead.id, Lead.external_id, Lead.currency).where(
                    Lead.campaign_id == campaign_id, Lead.external_id.in_(accounts)
                )
            )
        ).all()
    }
    zones = await _zones(s, (lid for lid, _ in leads.values()))
    existing: dict[tuple[int, str], tuple[Decimal, str]] = {
        (lid, ref): (amount, cur)
        for lid, ref, amount, cur in (
            await s.execute(
                select(Payment.lead_id, Payment.reference, Payment.amount, Payment.currency).where(
                    Payment.lead_id.in_([lid for lid, _ in leads.values()])
                )
            )
        ).all()
    }
    new: list[tuple[PaymentRow, Payment]] = []
    for r in rows:
        found = leads.get(r.account)
        if found is None:
            issues.append(
                Issue(r.row, account_col, r.account, f"no such account in campaign {campaign}",
                      "row skipped")
            )  # fmt: skip
            continue
        lead_id, lead_currency = found
        zone = zones[lead_id]
        currency = r.currency or lead_currency
        paid_on = r.paid_on if r.paid_on is not None else local_date(_need(r.paid_at), zone)
        if (r.paid_at is not None and r.paid_at > now) or paid_on > local_date(now, zone):
            value = r.paid_on.isoformat() if r.paid_on is not None else _iso(r.paid_at)
            issues.append(
                Issue(r.row, date_col, value, "payment date is in the future", "row skipped")
            )
            continue
        if r.reference is not None:
            reference = r.reference
        else:
            base = _derived_reference(r, currency)
            ranks[(lead_id, base)] += 1
            reference = f"{base}#{ranks[(lead_id, base)]}"
        key = (lead_id, reference)
        before = existing.get(key)
        earlier = in_file.get(key)
        if before is not None or earlier is not None:
            where = "already recorded" if before is not None else f"already on row {_row(earlier)}"
            amount, cur = before if before is not None else (_need(earlier).amount, currency)
            differs = "" if (amount, cur) == (r.amount, currency) else (
                f" with another amount ({amount} {cur}); the first one stands"
            )  # fmt: skip
            issues.append(
                Issue(r.row, ref_col, reference[:60],
                      f"payment {where} for account {r.account}{differs}", "duplicate skipped")
            )  # fmt: skip
            continue
        in_file[key] = r
        p = Payment(
            lead_id=lead_id,
            amount=r.amount,
            currency=currency,
            paid_on=paid_on,
            paid_at=r.paid_at,
            reference=reference,
            allocated=ZERO,
            source=source[:200],
            created_at=now,
        )
        s.add(p)
        new.append((r, p))
    await s.flush()
    for r, p in new:
        rows_of[p.id] = r.row
        result.recorded += 1
        result.recorded_amount[p.currency] = result.recorded_amount.get(p.currency, ZERO) + p.amount
    return issues


def _need(value: T | None) -> T:
    assert value is not None
    return value


def _row(r: PaymentRow | None) -> int:
    return _need(r).row


async def settle_campaign(
    store: Store,
    campaign: str,
    *,
    at: datetime | None = None,
    close_overdue: int | None = None,
    as_of: date | None = None,
    rows_of: dict[int, int] | None = None,
    policy: ContactPolicy | None = None,
) -> SettleResult:
    """Settle every pending promise of ``campaign`` with its lead's payments, break the
    unpaid ones more than ``close_overdue`` days overdue at ``as_of`` (default: the UTC
    date of ``at``), reschedule the leads concerned. Idempotent: a second run with no
    new payment changes nothing. ``rows_of`` maps payment ids to file rows (report);
    ``policy`` defaults to the campaign's."""
    now = _at(at)
    day = as_of or now.astimezone(UTC).date()
    rows_of = rows_of or {}
    out = SettleResult()
    info = await store.get_campaign(campaign)
    policy = policy or policy_for(info.settings)
    async with store.session() as s:
        promise_rows = list(
            (
                await s.execute(
                    select(PromiseToPay)
                    .join(Lead, Lead.id == PromiseToPay.lead_id)
                    .where(
                        Lead.campaign_id == info.id, PromiseToPay.status == PromiseStatus.PENDING
                    )
                    .order_by(PromiseToPay.lead_id, PromiseToPay.id)
                    .with_for_update(of=PromiseToPay)
                )
            ).scalars()
        )
        by_lead: dict[int, list[PromiseToPay]] = defaultdict(list)
        for pr in promise_rows:
            by_lead[pr.lead_id].append(pr)
        payments: dict[int, list[Payment]] = defaultdict(list)
        ids = list(by_lead)
        for start in range(0, len(ids), CHUNK_ROWS):
            part = ids[start : start + CHUNK_ROWS]
            q = (
                select(Payment)
                .where(Payment.lead_id.in_(part), Payment.allocated < Payment.amount)
                .order_by(Payment.id)
                .with_for_update()
            )
            for pay in (await s.execute(q)).scalars():
                payments[pay.lead_id].append(pay)
        zones = await _zones(s, ids)
        changed: list[int] = []
        for lead_id, mine in by_lead.items():
            zone = zones[lead_id]
            open_ = [
                OpenPromise(p.id, p.amount, p.currency, p.due_date, p.created_at,
                            local_date(p.created_at, zone))
                for p in mine
            ]  # fmt: skip
            credits = [
                PaymentCredit(p.id, p.amount, p.amount - p.allocated, p.currency, p.paid_on,
                              p.paid_at)
                for p in payments.get(lead_id, [])
            ]  # fmt: skip
            alloc = allocate(open_, credits)
            broken = (
                overdue_unpaid(open_, alloc.unpaid, as_of=day, days=close_overdue)
                if close_overdue is not None
                else ()
            )
            if _apply(
                lead_id,
                mine,
                payments.get(lead_id, []),
                alloc=alloc,
                broken=broken,
                zone=zone,
                rows_of=rows_of,
                out=out,
            ):
                changed.append(lead_id)
            if close_overdue is not None:
                _note_partly_overdue(open_, alloc, day, close_overdue, out)
            _note_unapplied(open_, credits, alloc, rows_of, out)
        if changed:
            active: list[int] = []
            for start in range(0, len(changed), CHUNK_ROWS):
                part = changed[start : start + CHUNK_ROWS]
                q_active = select(Lead.id).where(
                    Lead.id.in_(part), Lead.status == LeadStatus.ACTIVE
                )
                active.extend((await s.execute(q_active)).scalars())
            await s.flush()
            # A lead being dialled now is rescheduled by its own call's outcome.
            await reschedule(s, policy, active, at=now)
            out.leads_rescheduled = len(active)
    return out


def _apply(
    lead_id: int,
    promises: list[PromiseToPay],
    payments: list[Payment],
    *,
    alloc: Allocation,
    broken: tuple[int, ...],
    zone: ZoneInfo,
    rows_of: dict[int, int],
    out: SettleResult,
) -> bool:
    """Write one lead's allocation into its rows (the session flushes them)."""
    by_id = {p.id: p for p in promises}
    pay_by_id = {p.id: p for p in payments}
    for k in alloc.kept:
        pr = by_id[k.promise]
        pr.status = PromiseStatus.KEPT
        pr.paid_at = k.paid_at if k.paid_at is not None else start_of_day(k.paid_on, zone)
        out.kept += 1
        out.kept_amount[pr.currency] = out.kept_amount.get(pr.currency, ZERO) + pr.amount
        pay = pay_by_id[k.payment]
        out.issues.append(
            Issue(rows_of.get(k.payment, 0), "promise", f"promise {pr.id}",
                  f"promise of {pr.amount} {pr.currency} due {pr.due_date} kept by payment "
                  f"{pay.reference} of {pay.paid_on} (lead {lead_id})", "promise kept")
        )  # fmt: skip
    for pid, amount in alloc.used.items():
        pay_by_id[pid].allocated = pay_by_id[pid].allocated + amount
    for part in alloc.partly_paid:
        pr = by_id[part.promise]
        out.partly_paid += 1
        out.issues.append(
            Issue(rows_of.get(part.payments[-1], 0), "promise", f"promise {pr.id}",
                  f"promise of {pr.amount} {pr.currency} due {pr.due_date}: {part.covered} "
                  f"paid, {part.owed} still owed; left pending (lead {lead_id})", "note")
        )  # fmt: skip
    for pid in broken:
        pr = by_id[pid]
        pr.status = PromiseStatus.BROKEN
        out.broken += 1
        out.issues.append(
            Issue(0, "promise", f"promise {pr.id}",
                  f"promise of {pr.amount} {pr.currency} due {pr.due_date}: no payment "
                  f"(lead {lead_id})", "promise broken")
        )  # fmt: skip
    return bool(alloc.kept or broken)


def _note_unapplied(
    promises: list[OpenPromise],
    credits: list[PaymentCredit],
    alloc: Allocation,
    rows_of: dict[int, int],
    out: SettleResult,
) -> None:
    """A payment of this file that went to none of its lead's pending promises: say
    why (another currency, or paid before the promises were made)."""
    touched = set(alloc.used) | {pid for part in alloc.partly_paid for pid in part.payments}
    currencies = sorted({p.currency for p in promises})
    for c in credits:
        if c.id not in rows_of or c.id in touched or c.available != c.amount:
            continue
        if c.currency not in currencies:
            why = f"in {c.currency}; the lead's pending promises are in {', '.join(currencies)}"
        else:
            why = "made before the lead's pending promises"
        out.issues.append(
            Issue(rows_of[c.id], "promise", f"payment {c.id}",
                  f"payment {why}: recorded, not applied to a promise", "note")
        )  # fmt: skip


def _note_partly_overdue(
    promises: list[OpenPromise], alloc: Allocation, day: date, days: int, out: SettleResult
) -> None:
    """A partly paid promise is never closed as broken: say so when it is overdue."""
    partly = tuple(p.promise for p in alloc.partly_paid)
    for pid in overdue_unpaid(promises, partly, as_of=day, days=days):
        out.issues.append(
            Issue(0, "promise", f"promise {pid}",
                  f"more than {days} days overdue but partly paid: left pending", "note")
        )  # fmt: skip
