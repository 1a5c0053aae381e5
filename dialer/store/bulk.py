"""Bulk writing of imported leads: a batch at a time, duplicates handled by policy.

One transaction per batch (SQLite ``BEGIN IMMEDIATE``), lead ids allocated up front
(SQLite: from ``max(id)`` under the write lock; PostgreSQL: from the ``leads_id_seq``
sequence) so that leads and phones go in as two multi-row ``executemany`` inserts with
no per-row round trip.

Duplicate policy (``on_duplicate``), for an account already in the campaign (earlier in
the file or from a previous import) and for a number already on another lead:

- ``merge``: the row updates the existing lead (amount, days past due, name, segment,
  owner, currency, priority, custom fields merged) and adds its new numbers; a number
  shared with another lead is imported and noted;
- ``skip``: a row repeating an account, or any number of another lead, is skipped;
- ``report``: a row repeating an account is skipped (as an error); a shared number is
  imported and noted.

Every case writes an ``Issue`` to the report: nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.leads_import import Issue, PhoneRow, RowLead
from dialer.store.models import Lead, LeadStatus, Phone
from dialer.store.store import Store

POLICIES = ("merge", "skip", "report")


@dataclass(slots=True)
class BulkCounts:
    leads_created: int = 0
    leads_merged: int = 0
    phones_added: int = 0
    rows_skipped: int = 0


class BulkWriter:
    def __init__(self, store: Store, campaign_id: int, *, on_duplicate: str, at: datetime) -> None:
        if on_duplicate not in POLICIES:
            raise ValueError(f"on_duplicate: {on_duplicate!r} is not one of {', '.join(POLICIES)}")
        self.store = store
        self.campaign_id = campaign_id
        self.policy = on_duplicate
        self.at = at
        self.counts = BulkCounts()
        self._pg = store.engine.dialect.name == "postgresql"

    async def _ids(self, conn: AsyncConnection, n: int) -> list[int]:
        if n == 0:
            return []
        if self._pg:
            rows = await conn.execute(
                text("SELECT nextval('leads_id_seq') FROM generate_series(1, :n)"), {"n": n}
            )
            return [int(r[0]) for r in rows]
        top = (await conn.execute(text("SELECT coalesce(max(id), 0) FROM leads"))).scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + n))

    async def _where_in(
        self,
        conn: AsyncConnection,
        head: str,
        values: Sequence[Any],
        pg_type: str,
        *fixed: Any,
    ) -> list[Any]:
        """``head`` (its column last; ``{p}`` marks the fixed parameter, if any) ``IN values``,
        straight to the driver. Through ``column.in_(values)`` SQLAlchemy compiled one
        bound parameter per value, about 7 CPU-s of the main process per million rows."""
        if self._pg:
            marks = [f"${i + 1}" for i in range(len(fixed) + 1)]
            sql = head.format(p=marks[0]) + f" = ANY({marks[-1]}::{pg_type}[])"
            params: tuple[Any, ...] = (*fixed, list(values))
        else:
            sql = head.format(p="?") + f" IN ({', '.join('?' * len(values))})"
            params = (*fixed, *values)
        return list(await conn.exec_driver_sql(sql, params))

    async def write(self, batch: Sequence[RowLead]) -> list[Issue]:
        """Write one batch; returns the duplicate issues (the caller reports them)."""
        issues: list[Issue] = []
        if not batch:
            return issues
        async with self.store.engine.begin() as conn:
            accounts = list({r.account for r in batch})
            existing: dict[str, int] = {}
            for chunk in _chunks(accounts, 5000):
                rows = await self._where_in(
                    conn,
                    "SELECT external_id, id FROM leads WHERE campaign_id = {p} AND external_id",
                    chunk,
                    "varchar",
                    self.campaign_id,
                )
                existing.update({ext: lid for ext, lid in rows})
            numbers = list({p.e164 for r in batch for p in r.phones})
            phone_owner: dict[str, str] = {}  # number -> "lead 12" or "row 7"
            for chunk in _chunks(numbers, 5000):
                # By number first (ix_phones_e164), then keep this campaign's leads.
                found = await self._where_in(
                    conn, "SELECT e164, lead_id FROM phones WHERE e164", chunk, "varchar"
                )
                if not found:
                    continue
                # The campaign is checked here, not in SQL: with ``campaign_id = ?`` in
                # the WHERE clause SQLite's planner picks ix_leads_priority_claim and
                # walks the whole campaign (a 1M-lead import went quadratic: 3 -> 11
                # CPU-s per 100k rows); by primary key alone it is one probe per id.
                ours = {
                    lid
                    for lid, cid in await self._where_in(
                        conn,
                        "SELECT id, campaign_id FROM leads WHERE id",
                        list({lid for _, lid in found}),
                        "integer",
                    )
                    if cid == self.campaign_id
                }
                for e164, lid in found:
                    if lid in ours:
                        phone_owner.setdefault(e164, f"lead {lid}")

            new_rows: list[RowLead] = []
            new_index: dict[str, int] = {}  # account -> position in new_rows
            merges: dict[int, RowLead] = {}  # existing lead id -> merged row
            row_of_new: dict[int, int] = {}  # position -> file row
            for r in batch:
                dup_of = existing.get(r.account)
                pos = new_index.get(r.account)
                if dup_of is not None or pos is not None:
                    where = (
                        f"an existing lead (id {dup_of})"
                        if dup_of is not None
                        else f"row {row_of_new[pos]}"  # type: ignore[index]
                    )
                    if self.policy == "merge":
                        issues.append(
                            Issue(r.row, "account", r.account, f"same account as {where}", "merged")
                        )
                        if dup_of is not None:
                            merges[dup_of] = _merge(merges.get(dup_of), r)
                        else:
                            assert pos is not None
                            new_rows[pos] = _merge(new_rows[pos], r)
                        continue
                    action = "duplicate skipped" if self.policy == "skip" else "row skipped"
                    issues.append(
                        Issue(r.row, "account", r.account, f"same account as {where}", action)
                    )
                    self.counts.rows_skipped += 1
                    continue
                shared = [p.e164 for p in r.phones if p.e164 in phone_owner]
                if shared and self.policy == "skip":
                    issues.append(
                        Issue(
                            r.row,
                            "phone",
                            shared[0],
                            f"number already on {phone_owner[shared[0]]}",
                            "duplicate skipped",
                        )
                    )
                    self.counts.rows_skipped += 1
                    continue
                for e164 in shared:
                    issues.append(
                        Issue(r.row, "phone", e164, f"number also on {phone_owner[e164]}", "note")
                    )
                for p in r.phones:
                    phone_owner.setdefault(p.e164, f"row {r.row}")
                new_index[r.account] = len(new_rows)
                row_of_new[len(new_rows)] = r.row
                new_rows.append(r)

            ids = await self._ids(conn, len(new_rows))
            if new_rows:
                await self._insert_new(conn, ids, new_rows)
            if merges:
                await self._apply_merges(conn, merges)
        return issues

    async def _insert_new(self, conn: AsyncConnection, ids: list[int], rows: list[RowLead]) -> None:
        """Leads and their phones as two multi-row inserts straight to the driver's
        ``executemany``: the rows are already validated and serialised (JSON text,
        decimal text) by the validation processes, and the constant time columns are
        converted once through the column type's own bind processor, so no per-value
        processing is left for a million rows but the amount on PostgreSQL."""
        dialect = conn.dialect
        t = Lead.__table__
        at_proc = t.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        at = at_proc(self.at) if at_proc is not None else self.at
        sqlite = dialect.name == "sqlite"
        cid = self.campaign_id
        active = LeadStatus.ACTIVE.value
        leads = [
            (lid, cid, r.account, r.name, r.amount if sqlite else Decimal(r.amount),
             r.currency, r.days_past_due, r.segment, r.owner, r.priority, r.custom_json,
             at, active, at)
            for lid, r in zip(ids, rows, strict=True)
        ]  # fmt: skip
        sql = _insert_sql(dialect.paramstyle, "leads", LEAD_COLUMNS)
        await conn.exec_driver_sql(sql, leads)
        phones = [
            (lid, p.e164, p.kind, p.priority, p.time_zone, p.country, True)
            for lid, r in zip(ids, rows, strict=True)
            for p in r.phones
        ]
        sql = _insert_sql(dialect.paramstyle, "phones", PHONE_COLUMNS)
        await conn.exec_driver_sql(sql, phones)
        self.counts.leads_created += len(rows)
        self.counts.phones_added += len(phones)

    async def _apply_merges(self, conn: AsyncConnection, merges: dict[int, RowLead]) -> None:
        ids = list(merges)
        have: dict[int, set[str]] = {lid: set() for lid in ids}
        customs: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(ids, 5000):
            for lid, e164 in await conn.execute(
                select(Phone.lead_id, Phone.e164).where(Phone.lead_id.in_(chunk))
            ):
                have[lid].add(e164)
            for lid, custom in await conn.execute(
                select(Lead.id, Lead.custom).where(Lead.id.in_(chunk))
            ):
                customs[lid] = dict(custom or {})
        t = Lead.__table__
        stmt = (
            update(t)  # type: ignore[arg-type]
            .where(t.c.id == bindparam("b_id"))
            .values(
                debt_amount=bindparam("b_amount", type_=t.c.debt_amount.type),
                currency=bindparam("b_currency"),
                days_past_due=bindparam("b_dpd"),
                debtor_name=bindparam("b_name"),
                segment=bindparam("b_segment"),
                owner_agent=bindparam("b_owner"),
                priority=bindparam("b_priority"),
                custom=bindparam("b_custom", type_=t.c.custom.type),
            )
        )
        await conn.execute(
            stmt,
            [
                {
                    "b_id": lid,
                    "b_amount": Decimal(r.amount),
                    "b_currency": r.currency,
                    "b_dpd": r.days_past_due,
                    "b_name": r.name,
                    "b_segment": r.segment,
                    "b_owner": r.owner,
                    "b_priority": r.priority,
                    "b_custom": {**customs.get(lid, {}), **json.loads(r.custom_json)},
                }
                for lid, r in merges.items()
            ],
        )
        phones = [
            _phone_values(lid, p, p.priority + len(have[lid]))
            for lid, r in merges.items()
            for p in r.phones
            if p.e164 not in have[lid]
        ]
        if phones:
            await conn.execute(insert(Phone.__table__), phones)  # type: ignore[arg-type]
        self.counts.leads_merged += len(merges)
        self.counts.phones_added += len(phones)


def _merge(old: RowLead | None, new: RowLead) -> RowLead:
    """The later row wins field by field (an empty name keeps the old one); phones are
    the union, old ones first."""
    if old is None:
        return new
    seen = {p.e164 for p in old.phones}
    extra = tuple(
        p._replace(priority=len(old.phones) + i)
        for i, p in enumerate(q for q in new.phones if q.e164 not in seen)
    )
    custom = {**json.loads(old.custom_json), **json.loads(new.custom_json)}
    return new._replace(
        name=new.name or old.name,
        segment=new.segment if new.segment is not None else old.segment,
        owner=new.owner if new.owner is not None else old.owner,
        custom_json=json.dumps(custom, ensure_ascii=False),
        phones=old.phones + extra,
    )


def _phone_values(lead_id: int, p: PhoneRow, prio: int) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "e164": p.e164,
        "kind": p.kind,
        "priority": prio,
        "time_zone": p.time_zone,
        "country": p.country,
        "active": True,
    }


LEAD_COLUMNS = (
    "id", "campaign_id", "external_id", "debtor_name", "debt_amount", "currency",
    "days_past_due", "segment", "owner_agent", "priority", "custom", "next_eligible_at",
    "status", "created_at",
)  # fmt: skip
PHONE_COLUMNS = ("lead_id", "e164", "kind", "priority", "time_zone", "country", "active")


def _insert_sql(paramstyle: str, table: str, cols: tuple[str, ...]) -> str:
    if paramstyle == "qmark":  # sqlite3
        marks = ", ".join("?" for _ in cols)
    else:  # asyncpg: numeric_dollar
        marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"


def _chunks(items: Sequence[Any], n: int) -> list[Sequence[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]
