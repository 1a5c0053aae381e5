"""Crash safety, for real: a store-backed campaign process killed with SIGKILL at random
moments, restarted each time, then run to the end; the database is checked against the
harness's fsync'd ground-truth log (``dialer.store.crash_harness``) and the rules.

What must hold (issue 3, "Crash safety"):
- every attempt row is closed (finished, or reconciled after a crash); none pending/placed;
- every originate in the log has exactly one attempt row, for the same lead and number;
  rows without an originate are reconciled ones (killed between the commit and the
  originate), at most one per kill;
- no finished attempt is lost: every ``F`` line has its row finished with that outcome;
- no lead is dialled again because of the crash: replaying each lead's attempts in order,
  every dial was allowed by the contact policy given the ones before it (a reconciled
  dial counts, with the no-answer retry delay).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dialer.leads import AttemptOutcome
from dialer.store import Store, StoreSettings
from dialer.store.records import AttemptInfo, NewLead, NewPhone
from rules.facts import AttemptFact, LeadFacts, PhoneFacts
from rules.policy import ContactPolicy

ROOT = Path(__file__).resolve().parents[1]
START = "2026-03-03T10:00:00-06:00"  # a Tuesday morning in Mexico City


def make_campaign(db: Path | str, leads: int) -> None:
    async def run() -> None:
        s = await Store.open(StoreSettings(url=str(db)))
        await s.create_campaign("crash", mode="predictive", default_region="MX")
        await s.add_leads(
            "crash",
            [
                NewLead(
                    external_id=f"A{i}",
                    debt_amount=Decimal("100"),
                    currency="MXN",
                    priority=float(i % 7),
                    phones=(
                        NewPhone(f"+5255{10000000 + i:08d}", "America/Mexico_City", "MX"),
                        NewPhone(f"+5281{10000000 + i:08d}", "America/Monterrey", "MX", priority=1),
                    ),
                )
                for i in range(leads)
            ],
            at=datetime(2026, 3, 1, tzinfo=UTC),
        )
        await s.close()

    asyncio.run(run())


def harness(db: Path | str, log: Path, until: str) -> list[str]:
    return [
        sys.executable, "-m", "dialer.store.crash_harness", "--db", str(db),
        "--campaign", "crash", "--log", str(log), "--start", START, "--until", until,
        "--agents", "3", "--seed", "5",
    ]  # fmt: skip


def attempts_of(db: Path | str) -> list[AttemptInfo]:
    async def run() -> list[AttemptInfo]:
        s = await Store.open(StoreSettings(url=str(db)))
        try:
            return await s.attempts("crash")
        finally:
            await s.close()

    return asyncio.run(run())


def check(db: Path | str, log: Path, kills: int) -> dict[str, int]:
    originates: dict[str, tuple[str, str]] = {}
    finishes: dict[str, str] = {}
    recovered = 0
    for line in log.read_text().splitlines():
        kind, *rest = line.split()
        if kind == "O":
            assert rest[0] not in originates, f"call id {rest[0]} originated twice"
            originates[rest[0]] = (rest[1], rest[2])
        elif kind == "F":
            finishes[rest[0]] = rest[1]
        elif kind == "R":
            recovered += int(rest[1])
    rows = attempts_of(db)
    states = Counter(a.state for a in rows)
    assert set(states) <= {"finished", "reconciled"}, states

    by_call: dict[str, list[AttemptInfo]] = defaultdict(list)
    for a in rows:
        assert a.call_id is not None
        by_call[a.call_id].append(a)
    for call, (lead, number) in originates.items():
        found = by_call.get(call, [])
        assert len(found) == 1, f"originate {call}: {len(found)} attempt rows"
        assert (str(found[0].lead_id), found[0].phone[1:]) == (lead, number)
    unlogged = [a for a in rows if a.call_id not in originates]
    assert all(a.state == "reconciled" for a in unlogged), unlogged
    assert len(unlogged) <= kills
    for call, outcome in finishes.items():
        (a,) = by_call[call]
        assert (a.state, a.outcome) == ("finished", outcome), f"finished attempt {call} lost"
    finished_unlogged = [a for a in rows if a.state == "finished" and a.call_id not in finishes]
    assert len(finished_unlogged) <= kills
    reconciled = [a for a in rows if a.state == "reconciled"]
    assert len(reconciled) == recovered

    # Replay every lead's dials through the policy.
    policy = ContactPolicy()
    per_lead: dict[int, list[AttemptInfo]] = defaultdict(list)
    for a in rows:
        per_lead[a.lead_id].append(a)
    for lead_id, dials in per_lead.items():
        dials.sort(key=lambda a: (a.placed_at or a.created_at, a.id))
        phones = {
            a.phone[1:]: PhoneFacts(
                number=a.phone[1:],
                country="MX",
                time_zone="America/Mexico_City"
                if a.phone.startswith("+5255")
                else "America/Monterrey",
            )
            for a in dials
        }
        past: list[AttemptFact] = []
        for a in dials:
            at = a.placed_at or a.created_at
            facts = LeadFacts(
                lead=str(lead_id), phones=tuple(phones.values()), attempts=tuple(past)
            )  # type: ignore[arg-type]
            v = policy.evaluate(facts, phones[a.phone[1:]], at=at)
            assert v.allowed, f"lead {lead_id} dialled at {at} against the rules: {v.reason}"
            outcome = AttemptOutcome(a.outcome) if a.outcome else AttemptOutcome.NO_ANSWER
            past.append(
                AttemptFact(
                    number=a.phone[1:],
                    at=at,
                    outcome=outcome,
                    conversation=outcome is AttemptOutcome.CONNECTED,
                )
            )
    return {
        "attempts": len(rows),
        "originates": len(originates),
        "reconciled": len(reconciled),
        "unlogged": len(unlogged),
        "leads_dialled": len(per_lead),
    }


def run_with_kills(tmp: Path, *, leads: int, until: str, kills: int, seed: int) -> dict[str, int]:
    db, log = tmp / "crash.db", tmp / "originates.log"
    make_campaign(db, leads)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = 0
    for _ in range(kills):
        p = subprocess.Popen(harness(db, log, until), cwd=ROOT, env=env)
        time.sleep(rng.uniform(1.0, 4.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
    done = subprocess.run(harness(db, log, until), cwd=ROOT, env=env, timeout=300, check=False)
    assert done.returncode == 0
    assert log.read_text().splitlines()[-1] == "E"
    stats = check(db, log, killed)
    stats["kills"] = killed
    return stats


def test_killed_campaign_resumes_without_lost_or_repeated_dials(tmp_path: Path) -> None:
    stats = run_with_kills(tmp_path, leads=150, until="2026-03-03T10:30:00-06:00", kills=4, seed=3)
    assert stats["kills"] >= 2  # the campaign really was killed mid-way
    assert stats["originates"] > 30


@pytest.mark.slow
def test_many_kills_over_a_longer_campaign(tmp_path: Path) -> None:
    stats = run_with_kills(tmp_path, leads=400, until="2026-03-03T12:00:00-06:00", kills=12, seed=9)
    assert stats["kills"] >= 8
