"""The one path by which a disposition reaches the database.

The agent HTTP API and the simulated agents both call ``record_disposition``: what an
agent says about a call (``dialer.disposition_codes``), and what follows from it:

- ``promise_to_pay``: a promise (amount > 0, due date not before today) in the lead's
  currency unless given;
- ``callback``: a callback at ``callback_at`` (after now), owned by the agent unless
  ``callback_for_anyone``;
- ``do_not_call``: the number dialled on that call joins the DNC list (checked at dial
  time by the rules);
- every code: one disposition row tied to the call's attempt.

The contact-policy consequences on the lead (closing it, its next eligible time) are
the store's (``dialer.store.outcomes``) when it provides them.

Bad requests raise ``DispositionError`` naming the field and the reason (the API maps
it to a 4xx answer); nothing is written then.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from dialer.disposition_codes import STANDARD_CODES, DispositionCode
from dialer.errors import DialerError
from dialer.store import Store
from dialer.store.models import Attempt, Phone


class DispositionError(DialerError):
    """A disposition request is invalid; ``field`` names what was wrong."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


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
    promise_currency: str | None = None
    callback_at: datetime | None = None
    callback_for_anyone: bool = False


@dataclass(frozen=True, slots=True)
class DispositionResult:
    disposition_id: int
    lead_id: int
    promise_id: int | None = None
    callback_id: int | None = None
    dnc_number: str | None = None  # E.164 added to the DNC list


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the database knows about one call: its attempt, lead and number."""

    attempt_id: int
    lead_id: int
    campaign_id: int
    number: str  # E.164 with "+"
    agent: str | None


async def call_context(store: Store, call: str) -> CallContext:
    """The attempt behind the engine's call id; ``DispositionError`` if there is none."""
    async with store.session() as s:
        row = (
            await s.execute(
                select(Attempt.id, Attempt.lead_id, Attempt.campaign_id, Phone.e164, Attempt.agent)
                .join(Phone, Phone.id == Attempt.phone_id)
                .where(Attempt.call_id == call)
                .order_by(Attempt.id.desc())
                .limit(1)
            )
        ).first()
    if row is None:
        raise DispositionError("call", f"no attempt has call id {call!r}")
    return CallContext(row[0], row[1], row[2], row[3], row[4])


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
    disp = await store.record_disposition(
        ctx.lead_id, req.code, agent=req.agent, call=req.call, note=req.note, at=at
    )
    promise_id = callback_id = None
    dnc = None
    if req.code == DispositionCode.PROMISE_TO_PAY:
        assert req.promise_amount is not None and req.promise_due is not None
        promise = await store.add_promise(
            ctx.lead_id,
            amount=req.promise_amount,
            due=req.promise_due,
            currency=req.promise_currency,
            call=req.call,
            at=at,
        )
        promise_id = promise.id
    elif req.code == DispositionCode.CALLBACK:
        assert req.callback_at is not None
        owner = None if req.callback_for_anyone else req.agent
        callback = await store.add_callback(ctx.lead_id, req.callback_at, agent=owner, at=at)
        callback_id = callback.id
    elif req.code == DispositionCode.DO_NOT_CALL:
        await store.add_dnc([ctx.number], source=f"disposition:{req.agent}", at=at)
        dnc = ctx.number
    return DispositionResult(disp.id, ctx.lead_id, promise_id, callback_id, dnc)
