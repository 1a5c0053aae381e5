"""What an agent's disposition does to a lead, beyond being recorded.

``apply_disposition`` is the one entry point for the agent API and the simulator:

- ``do_not_call``: the number of that call (every number of the lead when no call is
  given) goes on the DNC list, source ``disposition``; the rules then never dial it;
- ``wrong_number``: that number is deactivated for this lead (no longer dialled);
- ``promise_to_pay``: a pending promise (``amount``, ``due``) is stored; the rules hold
  the lead until the day after the due date, then schedule the follow-up;
- ``callback``: a callback at ``callback_at`` (owned by the agent when ``agent_owned``);
- ``paid``: the lead is closed; other codes (``contact``, ``rpc``, ``refused``, custom
  codes from the configuration) are recorded as they are.

Then the lead's next eligible time is recomputed by the contact policy (unless it is
being dialled right now: the call's own ``finished`` does it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.disposition_codes import DispositionCode
from dialer.store.models import Attempt, Lead, LeadStatus, Phone
from dialer.store.records import DispositionInfo
from dialer.store.store import Store, _at
from dialer.store.supply import reschedule
from rules.policy import ContactPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class DispositionInput:
    """``amount``/``due`` for a promise, ``callback_at`` (tz-aware) for a callback."""

    code: str
    agent: str | None = None
    call: str | None = None
    note: str = ""
    amount: Decimal | None = None
    due: date | None = None
    callback_at: datetime | None = None
    agent_owned: bool = True


async def apply_disposition(
    store: Store,
    policy: ContactPolicy,
    lead_id: int,
    d: DispositionInput,
    *,
    at: datetime | None = None,
) -> DispositionInfo:
    """Record ``d`` for the lead and apply its consequences (see the module docstring).
    Raises ValueError naming a missing field (a promise without amount or due date, a
    callback without time) before anything is written."""
    now = _at(at)
    if d.code == DispositionCode.PROMISE_TO_PAY and (d.amount is None or d.due is None):
        raise ValueError("promise_to_pay: needs amount and due")
    if d.code == DispositionCode.CALLBACK and d.callback_at is None:
        raise ValueError("callback: needs callback_at")
    info = await store.record_disposition(
        lead_id, d.code, agent=d.agent, call=d.call, note=d.note, at=now
    )
    if d.code == DispositionCode.PROMISE_TO_PAY:
        assert d.amount is not None and d.due is not None
        await store.add_promise(lead_id, amount=d.amount, due=d.due, call=d.call, at=now)
    elif d.code == DispositionCode.CALLBACK:
        assert d.callback_at is not None
        owner = d.agent if d.agent_owned else None
        await store.add_callback(lead_id, d.callback_at, agent=owner, at=now)
    async with store.session() as s:
        numbers = await _numbers(s, lead_id, info.attempt_id)
        if d.code == DispositionCode.WRONG_NUMBER and info.attempt_id is not None:
            await s.execute(
                update(Phone)
                .where(Phone.lead_id == lead_id, Phone.e164.in_(numbers))
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
        if d.code == DispositionCode.PAID:
            await s.execute(
                update(Lead)
                .where(Lead.id == lead_id)
                .values(status=LeadStatus.CLOSED)
                .execution_options(synchronize_session=False)
            )
    if d.code == DispositionCode.DO_NOT_CALL:
        await store.add_dnc(numbers, source="disposition", at=now)
    async with store.session() as s:
        status = (await s.execute(select(Lead.status).where(Lead.id == lead_id))).scalar_one()
        if status == LeadStatus.ACTIVE:
            await reschedule(s, policy, [lead_id], at=now)
    return info


async def _numbers(s: AsyncSession, lead_id: int, attempt_id: int | None) -> list[str]:
    """The number of the attempt, or every number of the lead."""
    if attempt_id is not None:
        q = (
            select(Phone.e164)
            .join(Attempt, Attempt.phone_id == Phone.id)
            .where(Attempt.id == attempt_id)
        )
    else:
        q = select(Phone.e164).where(Phone.lead_id == lead_id)
    return list((await s.execute(q)).scalars())
