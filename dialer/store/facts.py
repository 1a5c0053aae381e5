"""Rows -> ``rules.facts.LeadFacts``: what the contact policy is told about leads.

Batched: one query per table for a whole set of leads (a claim evaluates dozens at once).
Attempts are read across every campaign that holds the same debt (same external account
id): Regulation F counts calls about a debt, whichever campaign placed them
(12 CFR 1006.14(b)(2)). A ``reconciled`` attempt (its outcome lost in a crash) is told to
the rules as ``reconciled_as`` (default no answer): it counts as a call and delays the
next one by that outcome's retry delay; ``pending`` attempts were never dialled and are
not told at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome
from dialer.store.models import (
    Attempt,
    AttemptState,
    Callback,
    DncEntry,
    Lead,
    Phone,
    PromiseToPay,
)
from rules.facts import AttemptFact, CallbackFact, LeadFacts, PhoneFacts, PromiseFact

# Rolling 7-day cap plus one day of slack for the debtor's local day boundaries.
HISTORY = timedelta(days=8)


def digits(e164: str) -> str:
    """``+5215512345678`` -> ``5215512345678`` (the runner's DialTarget.number)."""
    return e164[1:] if e164.startswith("+") else e164


async def load_facts(
    s: AsyncSession,
    lead_ids: Iterable[int],
    *,
    at: datetime,
    reconciled_as: AttemptOutcome = AttemptOutcome.NO_ANSWER,
) -> tuple[dict[int, LeadFacts], dict[int, list[Phone]]]:
    """Facts per lead id, and the lead's phones (best first) to map verdicts to rows."""
    ids = list(dict.fromkeys(lead_ids))
    if not ids:
        return {}, {}
    phones: dict[int, list[Phone]] = defaultdict(list)
    for p in (
        await s.execute(
            select(Phone)
            .where(Phone.lead_id.in_(ids), Phone.active.is_(True))
            .order_by(Phone.priority, Phone.id)
        )
    ).scalars():
        phones[p.lead_id].append(p)

    # The same debt in other campaigns: leads sharing the external account id.
    rows = await s.execute(select(Lead.id, Lead.external_id).where(Lead.id.in_(ids)))
    ext_of = dict(rows.all())
    same_debt = await s.execute(
        select(Lead.id, Lead.external_id).where(Lead.external_id.in_(set(ext_of.values())))
    )
    debt_leads: dict[str, list[int]] = defaultdict(list)
    for lid, ext in same_debt.all():
        debt_leads[ext].append(lid)
    all_ids = {lid for group in debt_leads.values() for lid in group} | set(ids)

    attempts_by_debt: dict[str, list[AttemptFact]] = defaultdict(list)
    ext_by_id = {lid: ext for ext, group in debt_leads.items() for lid in group}
    q = (
        select(
            Attempt.lead_id,
            Phone.e164,
            Attempt.created_at,
            Attempt.placed_at,
            Attempt.state,
            Attempt.outcome,
            Attempt.reserved_for,
        )
        .join(Phone, Phone.id == Attempt.phone_id)
        .where(
            Attempt.lead_id.in_(all_ids),
            Attempt.created_at >= at - HISTORY,
            Attempt.state != AttemptState.PENDING,
        )
    )
    for lid, e164, created, placed, state, outcome, reserved in (await s.execute(q)).all():
        if state == AttemptState.RECONCILED or outcome is None:
            oc = reconciled_as
        else:
            oc = AttemptOutcome(outcome)
        attempts_by_debt[ext_by_id[lid]].append(
            AttemptFact(
                number=digits(e164),
                at=placed or created,
                outcome=oc,
                conversation=oc is AttemptOutcome.CONNECTED,
                reserved=reserved is not None,
            )
        )

    numbers = {p.e164 for group in phones.values() for p in group}
    dnc = (
        set(
            (await s.execute(select(DncEntry.number).where(DncEntry.number.in_(numbers)))).scalars()
        )
        if numbers
        else set()
    )

    promises: dict[int, list[PromiseFact]] = defaultdict(list)
    promise_rows = await s.execute(select(PromiseToPay).where(PromiseToPay.lead_id.in_(ids)))
    for pr in promise_rows.scalars():
        promises[pr.lead_id].append(
            PromiseFact(
                amount=pr.amount, due=pr.due_date, status=pr.status, paid=pr.paid_at is not None
            )
        )
    callbacks: dict[int, list[CallbackFact]] = defaultdict(list)
    for cb in (
        await s.execute(select(Callback).where(Callback.lead_id.in_(ids), Callback.done.is_(False)))
    ).scalars():
        callbacks[cb.lead_id].append(
            CallbackFact(
                at=cb.at,
                agent=None if cb.agent is None else AgentId(cb.agent),
                agreed_at=cb.created_at,
            )
        )

    out: dict[int, LeadFacts] = {}
    for lid in ids:
        mine = phones.get(lid, [])
        out[lid] = LeadFacts(
            lead=LeadId(str(lid)),
            phones=tuple(phone_facts(p) for p in mine),
            attempts=tuple(attempts_by_debt.get(ext_of.get(lid, ""), ())),
            dnc=frozenset(digits(p.e164) for p in mine if p.e164 in dnc),
            promises=tuple(promises.get(lid, ())),
            callbacks=tuple(callbacks.get(lid, ())),
        )
    return out, phones


def phone_facts(p: Phone) -> PhoneFacts:
    return PhoneFacts(number=digits(p.e164), country=p.country, time_zone=p.time_zone)
