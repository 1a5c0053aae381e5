"""The one path by which a disposition reaches the database.

The agent HTTP API and the simulated agents both call ``record_disposition``: what an
agent says about a call (``dialer.disposition_codes``). This layer checks the request
(the code is known, a promise has an amount > 0 and a due date not in the past, a
callback is in the future, the call exists and was handled by this agent) and then
hands it to the store's ``dialer.store.outcomes.apply_disposition``, which records it
and applies its consequences under the campaign's contact policy:

- ``promise_to_pay``: a pending promise; the lead is held until the day after the due
  date, then followed up;
- ``callback``: a callback at ``callback_at``, owned by the agent unless
  ``callback_for_anyone``;
- ``do_not_call``: the number dialled on that call joins the DNC list;
- ``wrong_number``: that number is no longer dialled for this lead;
- ``paid``: the lead is closed;
- then the lead's next eligible time is recomputed by the rules.

Bad requests raise ``DispositionError`` naming the field and the reason (the API maps
it to a 4xx answer); nothing is written then.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from dialer.disposition import DispositionError
from dialer.disposition_codes import STANDARD_CODES, DispositionCode
from dialer.store import Store
from dialer.store.models import Attempt, Campaign, Phone
from dialer.store.outcomes import DispositionInput, apply_disposition
from dialer.store.policy_config import policy_for


@dataclass(frozen=True, slots=True, kw_only=True)
class DispositionRequest:
    """``call``: the engine's call id (the screen-pop carries it). ``agent``: the agent
    code setting it (the API's authenticated agent). Money is ``Decimal``; times are
    tz-aware."""

    call: str
    agent: str
    code: str
    note: str = ""
    promise_amount: Decimal | None = None
    promise_due: date | None = None
    callback_at: datetime | None = None
    callback_for_anyone: bool = False


@dataclass(frozen=True, slots=True)
class DispositionResult:
    disposition_id: int
    lead_id: int
    attempt_id: int | None
    number: str  # E.164 of the call (the number a do-not-call put on the DNC list)


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the database knows about one call: its attempt, lead and number."""

    attempt_id: int
    lead_id: int
    campaign_id: int
    number: str  # E.164 with "+"
    agent: str | None
    campaign_settings: dict[str, Any]


async def call_context(store: Store, call: str) -> CallContext:
    """The attempt behind the engine's call id; ``DispositionError`` if there is none."""
    async with store.session() as s:
        row = (
            await s.execute(
                select(
                    Attempt.id,
                    Attempt.lead_id,
                    Attempt.campaign_id,
                    Phone.e164,
                    Attempt.agent,
                    Campaign.settings,
                )
                .join(Phone, Phone.id == Attempt.phone_id)
                .join(Campaign, Campaign.id == Attempt.campaign_id)
                .where(Attempt.call_id == call)
                .order_by(Attempt.id.desc())
                .limit(1)
            )
        ).first()
    if row is None:
        raise DispositionError("call", f"no attempt has call id {call!r}")
    return CallContext(row[0], row[1], row[2], row[3], row[4], dict(row[5] or {}))


def _check(req: DispositionRequest, at: datetime, custom: Collection[str]) -> None:
    if at.tzinfo is None:
        raise DispositionError("at", "must be timezone-aware")
    if req.code not in STANDARD_CODES and req.code not in custom:
        known = ", ".join(sorted([*STANDARD_CODES, *custom]))
        raise DispositionError("code", f"unknown disposition {req.code!r}; expected one of {known}")
    if req.code == DispositionCode.PROMISE_TO_PAY:
        if req.promise_amount is None or not req.promise_amount > 0:
            raise DispositionError("promise_amount", "a promise to pay needs an amount > 0")
        if req.promise_due is None:
            raise DispositionError("promise_due", "a promise to pay needs a due date")
        if req.promise_due < at.date():
            raise DispositionError("promise_due", f"{req.promise_due} is in the past")
    if req.code == DispositionCode.CALLBACK:
        if req.callback_at is None or req.callback_at.tzinfo is None:
            raise DispositionError("callback_at", "a callback needs a timezone-aware time")
        if req.callback_at <= at:
            raise DispositionError("callback_at", "must be in the future")


async def record_disposition(
    store: Store,
    req: DispositionRequest,
    *,
    at: datetime,
    custom_codes: Collection[str] = (),
) -> DispositionResult:
    """Validate and record ``req`` at ``at`` (engine wall clock): see the module text."""
    _check(req, at, custom_codes)
    ctx = await call_context(store, req.call)
    if ctx.agent is not None and ctx.agent != req.agent:
        raise DispositionError("agent", f"call {req.call!r} was handled by another agent")
    policy = policy_for(ctx.campaign_settings)
    info = await apply_disposition(
        store,
        policy,
        ctx.lead_id,
        DispositionInput(
            code=req.code,
            agent=req.agent,
            call=req.call,
            note=req.note,
            amount=req.promise_amount,
            due=req.promise_due,
            callback_at=req.callback_at,
            agent_owned=not req.callback_for_anyone,
        ),
        at=at,
    )
    return DispositionResult(info.id, ctx.lead_id, info.attempt_id, ctx.number)
