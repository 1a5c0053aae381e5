"""StoreLeadSupply on a real SQLite file: claims through the contact policy, ownership,
rescheduling, the attempt life cycle and crash recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from dialer.ids import AgentId, CallId
from dialer.leads import AttemptOutcome, AttemptResult, DialTarget
from dialer.store import Store, StoreSettings
from dialer.store.outcomes import DispositionInput, apply_disposition
from dialer.store.records import NewLead, NewPhone
from dialer.store.supply import StoreLeadSupply
from rules.policy import ContactPolicy

MX = ZoneInfo("America/Mexico_City")
# Tuesday 3 March 2026, 10:00 in Mexico City (no DST in Mexico since 2022): in the window.
T0 = datetime(2026, 3, 3, 10, 0, tzinfo=MX)


def lead(ext: str, *numbers: str, owner: str | None = None, prio: float = 1.0) -> NewLead:
    return NewLead(
        external_id=ext,
        debt_amount=Decimal("1500.50"),
        currency="MXN",
        owner_agent=owner,
        priority=prio,
        phones=tuple(
            NewPhone(n, "America/Mexico_City", "MX", priority=i) for i, n in enumerate(numbers)
        ),
    )


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(StoreSettings(url=str(tmp_path / "s.db")))
    await s.create_campaign("c", mode="progressive", default_region="MX", at=T0)
    yield s
    await s.close()


async def supply(store: Store, worker: str = "w1") -> StoreLeadSupply:
    return await StoreLeadSupply.for_campaign(store, "c", policy=ContactPolicy(), worker=worker)


def result(call: str, target: DialTarget, outcome: AttemptOutcome, at: datetime) -> AttemptResult:
    return AttemptResult(CallId(call), target, outcome, at, at + timedelta(seconds=30))


@pytest.mark.asyncio
async def test_claim_order_ownership_and_dnc(store: Store) -> None:
    ids = await store.add_leads(
        "c",
        [
            lead("low", "+525511110001", prio=1),
            lead("high", "+525511110002", prio=5),
            lead("a1s", "+525511110003", owner="A1", prio=0.5),
            lead("a2s", "+525511110004", owner="A2", prio=9),
            lead("dnc", "+525511110005", prio=7),
        ],
        at=T0,
    )
    await store.add_dnc(["+525511110005"], source="test", at=T0)
    sup = await supply(store)
    got = await sup.claim(10, at=T0)
    # Unreserved: unowned only, best priority first; the DNC lead is closed, not dialled.
    assert [t.number for t in got] == ["525511110002", "525511110001"]
    dnc_lead = await store.get_lead("c", ids[4])
    assert dnc_lead.status == "closed"
    assert await sup.claim(5, at=T0) == []  # everything claimed is "dialing"
    mine = await sup.claim(1, at=T0, for_agent=AgentId("A1"))
    assert [(t.number, t.owner) for t in mine] == [("525511110003", "A1")]
    assert await sup.claim(1, at=T0, for_agent=AgentId("A1")) == []  # never A2's lead
    theirs = await sup.claim(3, at=T0, for_agent=AgentId("A2"))
    assert [t.owner for t in theirs] == ["A2"]


@pytest.mark.asyncio
async def test_attempt_life_cycle_and_retry(store: Store) -> None:
    (lid,) = await store.add_leads("c", [lead("x", "+525511110001", "+525511110009")], at=T0)
    sup = await supply(store)
    (t1,) = await sup.claim(1, at=T0)
    assert t1.number == "525511110001"
    opened = await store.open_attempts("c")
    assert [a.state for a in opened] == ["pending"]
    await sup.started(CallId("k1"), t1, at=T0)
    assert [a.state for a in await store.open_attempts("c")] == ["placed"]
    await sup.finished(result("k1", t1, AttemptOutcome.NO_ANSWER, T0))
    # The second phone may be tried at once; the first waits for its no-answer delay.
    after = T0 + timedelta(seconds=31)
    (t2,) = await sup.claim(1, at=after)
    assert t2.number == "525511110009"
    await sup.started(CallId("k2"), t2, at=after)
    await sup.finished(result("k2", t2, AttemptOutcome.BUSY, after))
    info = await store.get_lead("c", lid)
    assert info.status == "active"
    # Busy retries after 15 min (rules.settings.DEFAULT_RETRY_DELAYS).
    assert info.next_eligible_at == (after + timedelta(minutes=15)).astimezone(UTC)
    assert await sup.claim(1, at=after + timedelta(minutes=10)) == []
    attempts = await store.attempts("c")
    assert [(a.call_id, a.state, a.outcome) for a in attempts] == [
        ("k1", "finished", "no_answer"),
        ("k2", "finished", "busy"),
    ]


@pytest.mark.asyncio
async def test_outside_the_window_the_lead_is_rescheduled(store: Store) -> None:
    (lid,) = await store.add_leads("c", [lead("x", "+525511110001")], at=T0)
    sup = await supply(store)
    late = datetime(2026, 3, 3, 22, 30, tzinfo=MX)  # Mexico: 07:00-22:00
    assert await sup.claim(1, at=late) == []
    info = await store.get_lead("c", lid)
    assert info.next_eligible_at == datetime(2026, 3, 4, 7, 0, tzinfo=MX).astimezone(UTC)
    assert sup.refused == 1


@pytest.mark.asyncio
async def test_recovery_after_a_crash(store: Store) -> None:
    ids = await store.add_leads(
        "c", [lead("a", "+525511110001", prio=2), lead("b", "+525511110002", prio=1)], at=T0
    )
    dead = await supply(store, "dead")
    ta, _tb = await dead.claim(2, at=T0)
    await dead.started(CallId("x1"), ta, at=T0)  # placed: may have been dialled
    # tb stays pending: claimed, never dialled. Then the process dies.
    later = T0 + timedelta(minutes=5)
    new = await supply(store, "new")
    assert await new.recover(at=later) == (1, 1)
    attempts = await store.attempts("c")
    assert [(a.call_id, a.state, a.outcome) for a in attempts] == [("x1", "reconciled", None)]
    a = await store.get_lead("c", ids[0])
    b = await store.get_lead("c", ids[1])
    assert a.status == b.status == "active"
    # The placed one counts as a no-answer dial: 2 h later, not at once.
    assert a.next_eligible_at == (T0 + timedelta(hours=2)).astimezone(UTC)
    assert b.next_eligible_at == T0.astimezone(UTC)  # never dialled: unchanged
    got = await new.claim(5, at=later)
    assert [t.number for t in got] == ["525511110002"]
    assert await new.recover(at=later) == (0, 0)  # its own open attempts are left alone


@pytest.mark.asyncio
async def test_dispositions_change_what_the_rules_allow(store: Store) -> None:
    a, b, c = await store.add_leads(
        "c",
        [
            lead("w", "+525511110001", "+525511110002"),
            lead("p", "+525511110003"),
            lead("k", "+525511110004"),
        ],
        at=T0,
    )
    sup = await supply(store)
    policy = ContactPolicy()
    targets = {t.lead: t for t in await sup.claim(3, at=T0)}
    for i, t in enumerate(targets.values()):
        await sup.started(CallId(f"k{i}"), t, at=T0)
        await sup.finished(result(f"k{i}", t, AttemptOutcome.CONNECTED, T0))
    call_of = {int(t.lead): f"k{i}" for i, t in enumerate(targets.values())}
    later = T0 + timedelta(minutes=2)
    # Wrong number: that phone is no longer dialled; then do-not-call on the rest closes it.
    await apply_disposition(
        store, policy, a, DispositionInput(code="wrong_number", call=call_of[a]), at=later
    )
    info = await store.get_lead("c", a)
    assert [(p.e164, p.active) for p in info.phones] == [
        ("+525511110001", False),
        ("+525511110002", True),
    ]
    await apply_disposition(store, policy, a, DispositionInput(code="do_not_call"), at=later)
    assert await store.is_dnc("+525511110002")
    assert (await store.get_lead("c", a)).status == "closed"
    # A promise to pay on 10 March: the follow-up is the next day, in the calling window.
    await apply_disposition(
        store,
        policy,
        b,
        DispositionInput(
            code="promise_to_pay", agent="A1", call=call_of[b], amount=Decimal("500"),
            due=datetime(2026, 3, 10).date(),
        ),
        at=later,
    )  # fmt: skip
    (promise,) = await store.promises("c")
    assert (promise.amount, promise.status) == (Decimal("500.00"), "pending")
    assert (await store.get_lead("c", b)).next_eligible_at >= datetime(2026, 3, 11, 7, tzinfo=MX)
    # A callback owned by A1: only A1's claim gets the lead, at the agreed time.
    when = datetime(2026, 3, 12, 11, 0, tzinfo=MX)
    await apply_disposition(
        store, policy, c, DispositionInput(code="callback", agent="A1", callback_at=when),
        at=later,
    )  # fmt: skip
    assert [cb.agent for cb in await store.callbacks(c)] == ["A1"]
    # Unreserved claims get the promise follow-up, never A1's callback.
    assert [t.lead for t in await sup.claim(5, at=when)] == [str(b)]
    (t,) = await sup.claim(5, at=when, for_agent=AgentId("A1"))
    assert t.lead == str(c)
    with pytest.raises(ValueError, match="needs amount"):
        await apply_disposition(store, policy, b, DispositionInput(code="promise_to_pay"))
    assert [d.code for d in await store.dispositions("c")] == [
        "wrong_number", "do_not_call", "promise_to_pay", "callback",
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_a_claim_reads_further_past_refused_leads(store: Store) -> None:
    await store.add_leads(
        "c",
        [
            lead("a", "+525511110001", prio=9),
            lead("b", "+525511110002", prio=8),  # on the DNC list
            lead("c", "+525511110003", prio=1),
            lead("d", "+525511110004", prio=0),
        ],
        at=T0,
    )
    await store.add_dnc(["+525511110002"], source="t", at=T0)
    sup = await StoreLeadSupply.for_campaign(store, "c", policy=ContactPolicy(), worker="w", scan=2)
    got = [t.number[-1] for t in await sup.claim(3, at=T0)]
    assert got == ["1", "3", "4"]
    assert sup.refused == 1
