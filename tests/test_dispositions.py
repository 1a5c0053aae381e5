"""The dispositions service on a real SQLite store: what each code writes, and the
requests it refuses (nothing written then)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from dialer.dispositions import (
    DispositionError,
    DispositionRequest,
    call_context,
    record_disposition,
)
from dialer.ids import AgentId, CallId
from dialer.leads import AttemptOutcome, AttemptResult
from dialer.store import Store
from dialer.store.supply import StoreLeadSupply
from rules.policy import ContactPolicy
from tests.ops_fixtures import START, seed_store

AT = START + timedelta(minutes=5)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    settings = await seed_store(tmp_path / "d.db", leads=3)
    s = await Store.open(settings)
    yield s
    await s.close()


async def dialled(store: Store, call: str, agent: str = "a1") -> None:
    """One real attempt of campaign A, connected to ``agent``, under ``call``."""
    supply = await StoreLeadSupply.for_campaign(store, "A", policy=ContactPolicy(), worker="w")
    (target,) = await supply.claim(1, at=START)
    await supply.started(CallId(call), target, at=START)
    await supply.finished(
        AttemptResult(
            CallId(call), target, AttemptOutcome.CONNECTED, START, AT, agent=AgentId(agent)
        )
    )


@pytest.mark.asyncio
async def test_promise_callback_and_dnc(store: Store) -> None:
    await dialled(store, "k1r1.1")
    ctx = await call_context(store, "k1r1.1")
    res = await record_disposition(
        store,
        DispositionRequest(
            call="k1r1.1",
            agent="a1",
            code="promise_to_pay",
            promise_amount=Decimal("150.25"),
            promise_due=date(2026, 3, 9),
        ),
        at=AT,
    )
    assert res.lead_id == ctx.lead_id and res.attempt_id == ctx.attempt_id
    (promise,) = await store.promises("A")
    assert (promise.amount, promise.currency, promise.status) == (
        Decimal("150.25"),
        "MXN",
        "pending",
    )
    res = await record_disposition(
        store,
        DispositionRequest(
            call="k1r1.1", agent="a1", code="callback", callback_at=AT + timedelta(hours=2)
        ),
        at=AT,
    )
    (cb,) = await store.callbacks(ctx.lead_id)
    assert cb.agent == "a1" and cb.at == AT + timedelta(hours=2)
    res = await record_disposition(
        store, DispositionRequest(call="k1r1.1", agent="a1", code="do_not_call"), at=AT
    )
    assert res.number == ctx.number
    assert await store.is_dnc(ctx.number)
    codes = [d.code for d in await store.dispositions("A")]
    assert codes == ["promise_to_pay", "callback", "do_not_call"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("request_kw", "field"),
    [
        ({"call": "k1r1.1", "code": "paid_in_gold"}, "code"),
        ({"call": "k1r1.1", "code": "promise_to_pay"}, "promise_amount"),
        (
            {"call": "k1r1.1", "code": "promise_to_pay", "promise_amount": Decimal("-1")},
            "promise_amount",
        ),
        (
            {"call": "k1r1.1", "code": "promise_to_pay", "promise_amount": Decimal("5")},
            "promise_due",
        ),
        (
            {
                "call": "k1r1.1",
                "code": "promise_to_pay",
                "promise_amount": Decimal("5"),
                "promise_due": date(2026, 3, 1),
            },
            "promise_due",
        ),
        ({"call": "k1r1.1", "code": "callback", "callback_at": AT}, "callback_at"),
        ({"call": "k9.9", "code": "contact"}, "call"),
        ({"call": "k1r1.1", "code": "contact", "agent": "b1"}, "agent"),
    ],
)
async def test_refused_requests_write_nothing(
    store: Store, request_kw: dict[str, object], field: str
) -> None:
    await dialled(store, "k1r1.1")
    kw = {"agent": "a1", **request_kw}
    with pytest.raises(DispositionError) as info:
        await record_disposition(store, DispositionRequest(**kw), at=AT)  # type: ignore[arg-type]
    assert info.value.field == field
    assert await store.dispositions("A") == []
    assert await store.promises("A") == []


@pytest.mark.asyncio
async def test_custom_codes(store: Store) -> None:
    await dialled(store, "k1r1.2")
    req = DispositionRequest(call="k1r1.2", agent="a1", code="left_message")
    with pytest.raises(DispositionError):
        await record_disposition(store, req, at=AT)
    await record_disposition(store, req, at=AT, custom_codes={"left_message"})
    assert [d.code for d in await store.dispositions("A")] == ["left_message"]


def test_codes_are_the_stores() -> None:
    from dialer.disposition_codes import DispositionCode  # noqa: PLC0415
    from dialer.store.outcomes import DispositionCode as StoreCode  # noqa: PLC0415

    assert {c.value for c in DispositionCode} == {c.value for c in StoreCode}
