"""``StoreLeadSupply``: the runner's lead supply (``dialer.leads.LeadSupply``) on the store.

The life of one dial, and why it is crash safe:

1. ``claim`` (one transaction): pick candidate leads of the campaign whose
   ``next_eligible_at`` has passed, best priority first, locking them (PostgreSQL
   ``FOR UPDATE SKIP LOCKED``: two processes never get the same lead; SQLite: the
   transaction is ``BEGIN IMMEDIATE``, so claims are serialised). Each candidate's facts
   go through the contact policy (``rules.policy.ContactPolicy.evaluate``) phone by phone;
   a refused lead gets ``next_eligible_at`` = the verdict's next eligible time (closed if
   never: every number on the DNC list). Each chosen lead becomes ``dialing`` and gets a
   ``pending`` attempt row owned by this worker. Commit.
2. ``started`` (before the originate): the attempt becomes ``placed`` with its call id.
   Commit. A crash from here on leaves a ``placed`` row: the dial may have happened.
3. ``finished``: the attempt becomes ``finished`` (outcome, times, agent, abandon flag),
   and the lead's next eligible time is recomputed by the rules with this attempt among
   its facts. Commit.

With a ``lease`` (``lease.LeaseKeeper``), every claim first renews the campaign's lease
and raises ``LeaseLost`` if another process took it.

``recover`` (on start, holding the campaign's lease): ``pending`` attempts of other
workers were never dialled: deleted, their leads back to ``active`` unchanged. ``placed``
ones may have been dialled: closed as ``reconciled`` (outcome unknown), and their leads'
next eligible time is recomputed with that attempt counted (as ``reconciled_as``, default
no answer): a crash never causes an immediate redial, and no finished attempt is touched.

Progressive (``for_agent``): that agent's own leads first, then unowned ones; never a
lead owned by someone else. Unreserved (predictive) claims only take unowned leads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import AttemptOutcome, AttemptResult, DialTarget
from dialer.store.errors import StoreError
from dialer.store.facts import digits, load_facts
from dialer.store.lease import LeaseKeeper
from dialer.store.models import Attempt, AttemptState, Callback, Lead, LeadStatus, Phone
from dialer.store.store import Store
from rules.facts import LeadFacts
from rules.policy import ContactPolicy
from rules.verdict import Verdict
from rules.windows import CallingWindows

log = logging.getLogger("dialer.store.supply")

# When no phone of a lead will ever be allowed within the policy's horizon (but not all
# are on the DNC list), look at it again after this long instead of closing it.
RECHECK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LeadDecision:
    """The policy's answer for one lead: the phone to dial (or None), when next, why."""

    phone: Phone | None
    verdict: Verdict | None  # of the chosen phone, or of the soonest refused one
    next_eligible: datetime | None  # None: never (every number on the DNC list)
    boost: float = 0.0
    routed: bool = False  # allowed, but for another agent (an agent-owned callback)


def decide(
    policy: ContactPolicy,
    facts: LeadFacts,
    phones: Sequence[Phone],
    *,
    at: datetime,
    reserved_for: AgentId | None,
    campaign_windows: CallingWindows | None = None,
) -> LeadDecision:
    """Evaluate every phone of the lead (best first); the first allowed one wins. A
    verdict that routes the call to another agent (an agent-owned callback) is not an
    allowance for this claim, but keeps the lead eligible for that agent's: for an
    unreserved claim the callback agents' own verdicts are consulted too, so that an
    unreserved refusal never pushes the lead past its agent's callback."""
    d = _decide_for(policy, facts, phones, at, reserved_for, campaign_windows)
    if d.phone is not None or d.routed or reserved_for is not None:
        return d
    owners = {cb.agent for cb in facts.callbacks if cb.agent is not None}
    for agent in sorted(owners):
        theirs = _decide_for(policy, facts, phones, at, agent, campaign_windows)
        if theirs.phone is not None:
            return LeadDecision(None, theirs.verdict, at, routed=True)
        if theirs.next_eligible is not None and (
            d.next_eligible is None or theirs.next_eligible < d.next_eligible
        ):
            d = LeadDecision(None, theirs.verdict, theirs.next_eligible)
    return d


def _decide_for(  # noqa: PLR0917 - private
    policy: ContactPolicy,
    facts: LeadFacts,
    phones: Sequence[Phone],
    at: datetime,
    reserved_for: AgentId | None,
    campaign_windows: CallingWindows | None,
) -> LeadDecision:
    best: tuple[datetime, Verdict] | None = None
    routed: Verdict | None = None
    for phone, pf in zip(phones, facts.phones, strict=True):
        v = policy.evaluate(
            facts, pf, at=at, reserved_for=reserved_for, campaign_windows=campaign_windows
        )
        if v.allowed and (v.route_to is None or v.route_to == reserved_for):
            return LeadDecision(phone, v, at, v.priority_boost)
        if v.allowed:  # routed to another agent: eligible now, just not for this claim
            routed = routed or v
            continue
        if v.next_eligible is not None and (best is None or v.next_eligible < best[0]):
            best = (v.next_eligible, v)
    if routed is not None:
        return LeadDecision(None, routed, at, routed=True)
    if best is not None:
        return LeadDecision(None, best[1], best[0])
    if phones and len(facts.dnc) < len(phones):
        return LeadDecision(None, None, at + RECHECK)
    return LeadDecision(None, None, None)


class StoreLeadSupply:
    """Implements ``dialer.leads.LeadSupply`` for one campaign of a ``Store``.

    ``worker``: a name unique to this process run (attempts are owned by it; the crash
    recovery closes other workers' open attempts). ``scan``: how many candidate leads one
    claim round reads and evaluates (refused ones are rescheduled and the next round
    reads further, up to ``max_rounds``)."""

    def __init__(
        self,
        store: Store,
        campaign_id: int,
        *,
        policy: ContactPolicy,
        worker: str,
        scan: int = 64,
        max_rounds: int = 4,
        reconciled_as: AttemptOutcome = AttemptOutcome.NO_ANSWER,
        campaign_windows: CallingWindows | None = None,
        lease: LeaseKeeper | None = None,
    ) -> None:
        self.store = store
        self.campaign_windows = campaign_windows
        self.lease = lease
        self.campaign_id = campaign_id
        self.policy = policy
        self.worker = worker
        self.scan = scan
        self.max_rounds = max_rounds
        self.reconciled_as = reconciled_as
        self._pending: dict[DialTarget, int] = {}  # claimed, not started: attempt id
        self._placed: dict[CallId, int] = {}  # started, not finished: attempt id
        self._pg = store.engine.dialect.name == "postgresql"
        self.refused = 0  # leads rescheduled by the rules during claims (a counter)

    @classmethod
    async def for_campaign(
        cls, store: Store, campaign: str, *, policy: ContactPolicy, worker: str, **kw: object
    ) -> StoreLeadSupply:
        info = await store.get_campaign(campaign)
        return cls(store, info.id, policy=policy, worker=worker, **kw)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ claim

    def _candidates(self, at: datetime, owner: AgentId | None, limit: int) -> Select[int]:
        """Ids of eligible active leads of one owner (None: unowned), best priority
        first. Ids only, so that the index (campaign, owner, status, priority, next
        eligible time) covers the query and is walked in priority order: selecting whole
        rows makes SQLite prefer the time index and sort the campaign on every claim."""
        q = (
            select(Lead.id)
            .where(
                Lead.campaign_id == self.campaign_id,
                Lead.owner_agent.is_(None) if owner is None else Lead.owner_agent == owner,
                Lead.status == LeadStatus.ACTIVE,
                Lead.next_eligible_at <= at,
            )
            .order_by(Lead.priority.desc(), Lead.next_eligible_at, Lead.id)
            .limit(limit)
        )
        if self._pg:
            q = q.with_for_update(skip_locked=True)
        return q

    async def _read_candidates(
        self, s: AsyncSession, at: datetime, for_agent: AgentId | None, limit: int
    ) -> list[Lead]:
        """The agent's own leads first, then unowned ones (progressive); unowned only
        for an unreserved call. The rows are locked by the id query (PostgreSQL)."""
        ids: list[int] = []
        for owner in [for_agent, None] if for_agent is not None else [None]:
            rows = await s.execute(self._candidates(at, owner, limit - len(ids)))
            ids.extend(rows.scalars().all())
            if len(ids) >= limit:
                break
        if not ids:
            return []
        by_id = {
            ld.id: ld for ld in (await s.execute(select(Lead).where(Lead.id.in_(ids)))).scalars()
        }
        return [by_id[i] for i in ids]

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        if count <= 0:
            return []
        if self.lease is not None:
            await self.lease.ensure()  # LeaseLost: another process owns the campaign now
        chosen: list[tuple[float, Lead, Phone]] = []
        async with self.store.session() as s:
            for _ in range(self.max_rounds):
                need = count - len(chosen)
                leads = await self._read_candidates(s, at, for_agent, max(self.scan, need))
                if not leads:
                    break
                facts, phones = await load_facts(
                    s, (ld.id for ld in leads), at=at, reconciled_as=self.reconciled_as
                )
                for lead in leads:
                    d = decide(
                        self.policy,
                        facts[lead.id],
                        phones.get(lead.id, []),
                        at=at,
                        reserved_for=for_agent,
                        campaign_windows=self.campaign_windows,
                    )
                    if d.phone is not None:
                        if len(chosen) < count:
                            # Dialing at once: the next round's query must not see it.
                            lead.status = LeadStatus.DIALING
                            chosen.append((lead.priority + d.boost, lead, d.phone))
                        continue
                    if d.routed:
                        continue  # eligible for its agent's claim; leave it as it is
                    if d.next_eligible is None:
                        lead.status = LeadStatus.CLOSED  # every number on the DNC list
                    else:
                        lead.next_eligible_at = d.next_eligible
                    self.refused += 1
                if len(chosen) >= count or len(leads) < max(self.scan, need):
                    break
                await s.flush()  # rescheduled leads drop out of the next round's query
            # Follow-ups due (callbacks, promise follow-ups) go first within the batch.
            chosen.sort(key=lambda c: -c[0])
            out: list[DialTarget] = []
            pending: list[tuple[DialTarget, Attempt]] = []
            for _, lead, phone in chosen:
                attempt = Attempt(
                    campaign_id=self.campaign_id,
                    lead_id=lead.id,
                    phone_id=phone.id,
                    worker=self.worker,
                    reserved_for=for_agent,
                    state=AttemptState.PENDING,
                    created_at=at,
                    abandoned=False,
                )
                s.add(attempt)
                target = DialTarget(
                    LeadId(str(lead.id)),
                    digits(phone.e164),
                    None if lead.owner_agent is None else AgentId(lead.owner_agent),
                )
                pending.append((target, attempt))
                out.append(target)
            await s.flush()
        for target, attempt in pending:
            self._pending[target] = attempt.id
        return out

    # ------------------------------------------------------------------ started / finished

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        attempt_id = self._pending.pop(target, None)
        if attempt_id is None:
            raise StoreError(f"started: lead {target.lead} was not claimed by this supply")
        async with self.store.session() as s:
            await s.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id)
                .values(state=AttemptState.PLACED, call_id=call, placed_at=at)
                .execution_options(synchronize_session=False)
            )
        self._placed[call] = attempt_id

    async def finished(self, result: AttemptResult) -> None:
        attempt_id = self._placed.pop(result.call, None)
        if attempt_id is None:
            raise StoreError(f"finished: call {result.call} was not started by this supply")
        lead_id = int(result.target.lead)
        async with self.store.session() as s:
            await s.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id)
                .values(
                    state=AttemptState.FINISHED,
                    outcome=result.outcome.value,
                    answered_at=result.answered_at,
                    ended_at=result.ended_at,
                    agent=result.agent,
                    amd_verdict=result.amd_verdict,
                    abandoned=result.outcome is AttemptOutcome.ABANDONED,
                )
                .execution_options(synchronize_session=False)
            )
            if result.outcome is AttemptOutcome.CONNECTED:
                # A conversation at or after the agreed time completes the callback.
                await s.execute(
                    update(Callback)
                    .where(
                        Callback.lead_id == lead_id,
                        Callback.done.is_(False),
                        Callback.at <= result.ended_at,
                    )
                    .values(done=True)
                    .execution_options(synchronize_session=False)
                )
            await reschedule(
                s,
                self.policy,
                [lead_id],
                at=result.ended_at,
                reconciled_as=self.reconciled_as,
                campaign_windows=self.campaign_windows,
            )

    # ------------------------------------------------------------------ crash recovery

    async def recover(self, *, at: datetime) -> tuple[int, int]:
        """Close what other workers left open in this campaign (call it holding the lease,
        before the first claim). Returns (pending attempts released, placed attempts
        reconciled)."""
        async with self.store.session() as s:
            open_rows = (
                await s.execute(
                    select(Attempt.id, Attempt.lead_id, Attempt.state).where(
                        Attempt.campaign_id == self.campaign_id,
                        Attempt.state.in_((AttemptState.PENDING, AttemptState.PLACED)),
                        Attempt.worker != self.worker,
                    )
                )
            ).all()
            pending = [aid for aid, _, st in open_rows if st == AttemptState.PENDING]
            placed = [aid for aid, _, st in open_rows if st == AttemptState.PLACED]
            leads = sorted({lid for _, lid, _ in open_rows})
            if pending:
                await s.execute(delete(Attempt).where(Attempt.id.in_(pending)))
            if placed:
                await s.execute(
                    update(Attempt)
                    .where(Attempt.id.in_(placed))
                    .values(state=AttemptState.RECONCILED, ended_at=at)
                    .execution_options(synchronize_session=False)
                )
            # Leads left "dialing" by a dead worker: back in play, rescheduled by the rules
            # (a lead whose attempt was only pending keeps its time: it was never dialled).
            stuck = (
                (
                    await s.execute(
                        select(Lead.id).where(
                            Lead.campaign_id == self.campaign_id,
                            Lead.status == LeadStatus.DIALING,
                            ~Lead.id.in_(
                                select(Attempt.lead_id).where(
                                    Attempt.campaign_id == self.campaign_id,
                                    Attempt.state.in_((AttemptState.PENDING, AttemptState.PLACED)),
                                )
                            ),
                        )
                    )
                )
                .scalars()
                .all()
            )
            await s.execute(
                update(Lead)
                .where(Lead.id.in_(stuck))
                .values(status=LeadStatus.ACTIVE)
                .execution_options(synchronize_session=False)
            )
            placed_leads = sorted({lid for aid, lid, st in open_rows if st == AttemptState.PLACED})
            await reschedule(
                s,
                self.policy,
                placed_leads,
                at=at,
                reconciled_as=self.reconciled_as,
                campaign_windows=self.campaign_windows,
            )
        if open_rows:
            log.warning(
                "recovered campaign %s: %d pending attempts released, %d placed attempts "
                "reconciled (outcome unknown), %d leads",
                self.campaign_id,
                len(pending),
                len(placed),
                len(leads),
            )
        return len(pending), len(placed)


async def reschedule(
    s: AsyncSession,
    policy: ContactPolicy,
    lead_ids: Sequence[int],
    *,
    at: datetime,
    reconciled_as: AttemptOutcome = AttemptOutcome.NO_ANSWER,
    campaign_windows: CallingWindows | None = None,
) -> None:
    """Recompute the leads' next eligible time from their facts at ``at`` and make them
    ``active`` again (``closed`` if no phone will ever be allowed)."""
    if not lead_ids:
        return
    facts, phones = await load_facts(s, lead_ids, at=at, reconciled_as=reconciled_as)
    for lid in lead_ids:
        d = decide(
            policy,
            facts[lid],
            phones.get(lid, []),
            at=at,
            reserved_for=None,
            campaign_windows=campaign_windows,
        )
        if d.next_eligible is None:
            values: dict[str, object] = {"status": LeadStatus.CLOSED}
        else:
            values = {"status": LeadStatus.ACTIVE, "next_eligible_at": d.next_eligible}
        await s.execute(
            update(Lead)
            .where(Lead.id == lid, Lead.status != LeadStatus.CLOSED)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
