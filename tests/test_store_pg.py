"""The store on a real PostgreSQL server: the migrated schema, atomic claims across
engines and across processes (``FOR UPDATE SKIP LOCKED``), and the campaign lease moving
from a killed process to another."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from dialer.ids import CallId
from dialer.leads import AttemptOutcome, AttemptResult
from dialer.store import Store, StoreSettings
from dialer.store.engine import head_revision
from dialer.store.models import Base
from dialer.store.records import NewLead, NewPhone
from dialer.store.supply import StoreLeadSupply
from rules.policy import ContactPolicy
from tests.test_store_crash import ROOT, check, harness, make_campaign

T0 = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 10:00 in Mexico City


def _compare(conn: Connection) -> tuple[str | None, list[object]]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return ctx.get_current_revision(), list(compare_metadata(ctx, Base.metadata))


@pytest.mark.asyncio
async def test_pg_migrated_schema_equals_models(pg_url: str) -> None:
    store = await Store.open(StoreSettings(url=pg_url))
    try:
        async with store.engine.connect() as conn:
            rev, diff = await conn.run_sync(_compare)
        assert rev == head_revision()
        assert diff == []
        # Opening again is a no-op (already at head).
        again = await Store.open(StoreSettings(url=pg_url))
        await again.close()
    finally:
        await store.close()


async def _fill(store: Store, n: int) -> None:
    await store.create_campaign("c", mode="predictive", default_region="MX", at=T0)
    await store.add_leads(
        "c",
        [
            NewLead(
                external_id=f"A{i}",
                debt_amount=Decimal("10"),
                currency="MXN",
                priority=float(i % 5),
                phones=(NewPhone(f"+5255{20000000 + i:08d}", "America/Mexico_City", "MX"),),
            )
            for i in range(n)
        ],
        at=T0,
    )


@pytest.mark.asyncio
async def test_two_engines_never_claim_the_same_lead(pg_url: str) -> None:
    a = await Store.open(StoreSettings(url=pg_url))
    b = await Store.open(StoreSettings(url=pg_url))
    try:
        await _fill(a, 300)
        sa = await StoreLeadSupply.for_campaign(a, "c", policy=ContactPolicy(), worker="a")
        sb = await StoreLeadSupply.for_campaign(b, "c", policy=ContactPolicy(), worker="b")
        got: dict[str, list[str]] = {"a": [], "b": []}

        async def take(name: str, sup: StoreLeadSupply) -> None:
            while True:
                batch = await sup.claim(7, at=T0)
                if not batch:
                    return
                got[name].extend(t.lead for t in batch)
                await asyncio.sleep(0)

        await asyncio.gather(take("a", sa), take("b", sb), take("a", sa), take("b", sb))
        assert len(got["a"]) + len(got["b"]) == 300
        assert not set(got["a"]) & set(got["b"])
        assert len(set(got["a"])) == len(got["a"]) and len(set(got["b"])) == len(got["b"])
        assert got["a"] and got["b"]  # both really worked
        assert await sa.claim(1, at=T0) == []  # every lead is being dialled
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_pg_attempt_cycle_and_recovery(pg_url: str) -> None:
    store = await Store.open(StoreSettings(url=pg_url))
    try:
        await _fill(store, 3)
        dead = await StoreLeadSupply.for_campaign(store, "c", policy=ContactPolicy(), worker="x")
        t1, t2, t3 = await dead.claim(3, at=T0)
        await dead.started(CallId("k1"), t1, at=T0)
        await dead.started(CallId("k2"), t2, at=T0)
        end = T0 + timedelta(seconds=40)
        await dead.finished(AttemptResult(CallId("k1"), t1, AttemptOutcome.BUSY, T0, end))
        new = await StoreLeadSupply.for_campaign(store, "c", policy=ContactPolicy(), worker="y")
        assert await new.recover(at=T0 + timedelta(minutes=1)) == (1, 1)
        rows = {a.call_id: (a.state, a.outcome) for a in await store.attempts("c")}
        assert rows == {"k1": ("finished", "busy"), "k2": ("reconciled", None)}
        lead2 = await store.get_lead("c", t2.lead)
        assert lead2.next_eligible_at == T0 + timedelta(hours=2)  # no-answer delay
        assert [t.lead for t in await new.claim(5, at=T0 + timedelta(minutes=1))] == [t3.lead]
    finally:
        await store.close()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_two_processes_share_a_campaign_without_double_dials(pg_url: str, tmp_path: Path) -> None:
    """Two harness processes dial one campaign at once (no lease: claims alone keep them
    apart); no lead is ever in two calls at once, and every dial obeys the rules."""
    make_campaign(pg_url, 120)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    until = "2026-03-03T10:20:00-06:00"
    procs = [
        subprocess.Popen(
            [*harness(pg_url, log, until), "--shared", "--seed", str(i + 1)], cwd=ROOT, env=_env()
        )
        for i, log in enumerate(logs)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0
    merged = tmp_path / "all.log"
    merged.write_text("".join(log.read_text() for log in logs))
    stats = check(pg_url, merged, kills=0)
    workers = {line.split()[1] for line in merged.read_text().splitlines() if line[0] == "S"}
    assert len(workers) == 2
    per_worker = defaultdict(int)
    for line in merged.read_text().splitlines():
        if line.startswith("O "):
            per_worker[line.split()[1].rsplit("-", 1)[0]] += 1
    assert len(per_worker) == 2 and min(per_worker.values()) > 5, per_worker
    assert stats["originates"] == sum(per_worker.values())


def test_lease_moves_from_a_killed_process(pg_url: str, tmp_path: Path) -> None:
    """Process A holds the campaign and is killed mid-campaign; B, started at once,
    waits for A's lease to expire, takes it over, reconciles A's open dials, finishes."""
    make_campaign(pg_url, 150)
    log = tmp_path / "o.log"
    until = "2026-03-03T10:30:00-06:00"
    a = subprocess.Popen(harness(pg_url, log, until), cwd=ROOT, env=_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and dials(log) < 5:
        time.sleep(0.05)
    a.send_signal(signal.SIGKILL)
    a.wait()
    b = subprocess.run(harness(pg_url, log, until), cwd=ROOT, env=_env(), timeout=300, check=False)
    assert b.returncode == 0
    lines = log.read_text().splitlines()
    starts = [line for line in lines if line.startswith("S ")]
    assert len(starts) == 2
    check(pg_url, log, kills=1)


def dials(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.startswith("O "))


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("PostgreSQL tests run on Linux (Debian packages)")
