"""``Store``: the async API over the database (see the package docstring for the list).

Every method opens its own short transaction and returns frozen records
(``records.py``), so callers never hold a session across an await of their own.
Times passed in must be tz-aware; ``at=None`` means "now" (UTC) for operator commands.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.store import engine as engine_mod
from dialer.store.errors import AlreadyExists, NotFound, StoreError
from dialer.store.facts import load_facts
from dialer.store.models import (
    Agent,
    Attempt,
    Callback,
    Campaign,
    CampaignAgent,
    CampaignStatus,
    Disposition,
    DncEntry,
    Lead,
    LeadStatus,
    Phone,
    PromiseStatus,
    PromiseToPay,
)
from dialer.store.records import (
    AgentInfo,
    AttemptInfo,
    CallbackInfo,
    CampaignInfo,
    DispositionInfo,
    LeadInfo,
    NewLead,
    PhoneInfo,
    PromiseInfo,
)
from dialer.store.settings import StoreSettings
from rules.facts import LeadFacts

MODES = ("predictive", "progressive", "ratio")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _at(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise ValueError("at: must be timezone-aware")
    return at


def hash_token(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def campaign_info(c: Campaign) -> CampaignInfo:
    return CampaignInfo(
        c.id,
        c.name,
        c.mode,
        dict(c.settings or {}),
        c.default_region,
        c.status,
        c.lease_owner,
        c.lease_expires_at,
        c.created_at,
    )


def phone_info(p: Phone) -> PhoneInfo:
    return PhoneInfo(p.id, p.e164, p.kind, p.priority, p.time_zone, p.country, p.active)


def attempt_info(a: Attempt, campaign: str, phone: str) -> AttemptInfo:
    return AttemptInfo(
        a.id,
        a.call_id,
        campaign,
        a.lead_id,
        phone,
        a.worker,
        a.reserved_for,
        a.state,
        a.created_at,
        a.placed_at,
        a.answered_at,
        a.ended_at,
        a.outcome,
        a.amd_verdict,
        a.agent,
        a.abandoned,
    )


def promise_info(p: PromiseToPay) -> PromiseInfo:
    return PromiseInfo(
        p.id,
        p.lead_id,
        p.attempt_id,
        p.amount,
        p.currency,
        p.due_date,
        p.status,
        p.paid_at,
        p.created_at,
    )


class Store:
    """One database, one engine. Open with ``await Store.open(settings)`` (applies
    migrations when ``settings.auto_migrate``) and ``await store.close()``, or use
    ``async with await Store.open(...) as store``."""

    def __init__(self, settings: StoreSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, settings: StoreSettings | None = None) -> Store:
        settings = settings or StoreSettings()
        engine = engine_mod.make_engine(settings)
        store = cls(settings, engine)
        if settings.auto_migrate:
            try:
                await engine_mod.upgrade(engine)
            except Exception as exc:
                await engine.dispose()
                raise StoreError(f"cannot open {settings.safe_url}: {type(exc).__name__}") from None
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on exit (rolled back on error)."""
        async with self.sessions() as s, s.begin():
            yield s

    # ------------------------------------------------------------------ campaigns

    async def create_campaign(
        self,
        name: str,
        *,
        mode: str = "predictive",
        settings: dict[str, Any] | None = None,
        default_region: str = "US",
        at: datetime | None = None,
    ) -> CampaignInfo:
        if not name or len(name) > 100:
            raise ValueError("name: 1 to 100 characters")
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        region = default_region.upper()
        if len(region) != 2 or not region.isalpha():
            raise ValueError(f"default_region: {default_region!r} is not an ISO country code")
        c = Campaign(
            name=name,
            mode=mode,
            settings=dict(settings or {}),
            default_region=region,
            status=CampaignStatus.CREATED,
            created_at=_at(at),
        )
        try:
            async with self.session() as s:
                s.add(c)
        except IntegrityError:
            raise AlreadyExists("campaign", name) from None
        return campaign_info(c)

    async def _campaign(self, s: AsyncSession, name: str) -> Campaign:
        c = (await s.execute(select(Campaign).where(Campaign.name == name))).scalar_one_or_none()
        if c is None:
            raise NotFound("campaign", name)
        return c

    async def get_campaign(self, name: str) -> CampaignInfo:
        async with self.session() as s:
            return campaign_info(await self._campaign(s, name))

    async def list_campaigns(self) -> list[CampaignInfo]:
        async with self.session() as s:
            rows = (await s.execute(select(Campaign).order_by(Campaign.name))).scalars()
            return [campaign_info(c) for c in rows]

    async def set_campaign_status(self, name: str, status: CampaignStatus | str) -> CampaignInfo:
        st = CampaignStatus(status)
        async with self.session() as s:
            c = await self._campaign(s, name)
            c.status = st
            return campaign_info(c)

    async def update_campaign_settings(self, name: str, settings: dict[str, Any]) -> CampaignInfo:
        async with self.session() as s:
            c = await self._campaign(s, name)
            c.settings = {**(c.settings or {}), **settings}
            return campaign_info(c)

    # ------------------------------------------------------------------ leases

    async def acquire_lease(
        self, campaign: str, owner: str, *, at: datetime | None = None, ttl: float | None = None
    ) -> bool:
        """Take or renew the campaign's lease for ``owner`` for ``ttl`` seconds (default
        ``settings.lease_ttl``). True if ``owner`` holds it now: it was free, expired, or
        already ours. One conditional UPDATE, so two processes can never both win."""
        now = _at(at)
        expires = now + timedelta(seconds=ttl or self.settings.lease_ttl)
        async with self.session() as s:
            res = await s.execute(
                update(Campaign)
                .where(
                    Campaign.name == campaign,
                    or_(
                        Campaign.lease_owner.is_(None),
                        Campaign.lease_owner == owner,
                        Campaign.lease_expires_at < now,
                    ),
                )
                .values(lease_owner=owner, lease_expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount == 0:  # type: ignore[attr-defined]
                await self._campaign(s, campaign)  # NotFound if it does not exist
                return False
            return True

    async def release_lease(self, campaign: str, owner: str) -> None:
        """Give the lease up (clean shutdown), if ``owner`` holds it."""
        async with self.session() as s:
            await s.execute(
                update(Campaign)
                .where(Campaign.name == campaign, Campaign.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    # ------------------------------------------------------------------ agents

    async def create_agent(
        self,
        code: str,
        *,
        name: str = "",
        campaigns: Iterable[str] = (),
        at: datetime | None = None,
    ) -> tuple[AgentInfo, str]:
        """Create an agent and return it with its API token: the only time the token is
        ever visible (only its hash is stored)."""
        if not code or len(code) > 64 or not code.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"code: {code!r} must be 1-64 letters, digits, '-' or '_'")
        token = secrets.token_urlsafe(32)
        a = Agent(code=code, name=name, token_hash=hash_token(token), created_at=_at(at))
        try:
            async with self.session() as s:
                s.add(a)
                await s.flush()
                for name_ in campaigns:
                    c = await self._campaign(s, name_)
                    s.add(CampaignAgent(campaign_id=c.id, agent_id=a.id))
        except IntegrityError:
            raise AlreadyExists("agent", code) from None
        return await self.get_agent(code), token

    async def rotate_token(self, code: str) -> str:
        """A new token for ``code``; the old one stops working."""
        token = secrets.token_urlsafe(32)
        async with self.session() as s:
            a = await self._agent(s, code)
            a.token_hash = hash_token(token)
        return token

    async def verify_token(self, token: str) -> AgentInfo | None:
        """The active agent whose token this is, or None (unknown, empty or inactive)."""
        if not token:
            return None
        h = hash_token(token)
        async with self.session() as s:
            a = (await s.execute(select(Agent).where(Agent.token_hash == h))).scalar_one_or_none()
            if a is None or a.token_hash is None or not a.active:
                return None
            if not hmac.compare_digest(a.token_hash, h):  # belt and braces
                return None
            code = a.code
        return await self.get_agent(code)

    async def _agent(self, s: AsyncSession, code: str) -> Agent:
        a = (await s.execute(select(Agent).where(Agent.code == code))).scalar_one_or_none()
        if a is None:
            raise NotFound("agent", code)
        return a

    async def get_agent(self, code: str) -> AgentInfo:
        async with self.session() as s:
            a = await self._agent(s, code)
            names = (
                await s.execute(
                    select(Campaign.name)
                    .join(CampaignAgent, CampaignAgent.campaign_id == Campaign.id)
                    .where(CampaignAgent.agent_id == a.id)
                    .order_by(Campaign.name)
                )
            ).scalars()
            return AgentInfo(a.id, a.code, a.name, a.active, tuple(names))

    async def list_agents(self, campaign: str | None = None) -> list[AgentInfo]:
        async with self.session() as s:
            q = select(Agent.code).order_by(Agent.code)
            if campaign is not None:
                c = await self._campaign(s, campaign)
                q = q.join(CampaignAgent, CampaignAgent.agent_id == Agent.id).where(
                    CampaignAgent.campaign_id == c.id
                )
            codes = list((await s.execute(q)).scalars())
        return [await self.get_agent(code) for code in codes]

    async def assign_agent(self, code: str, campaign: str) -> None:
        """Make ``code`` a member of ``campaign`` (idempotent)."""
        async with self.session() as s:
            a = await self._agent(s, code)
            c = await self._campaign(s, campaign)
            exists = await s.get(CampaignAgent, (c.id, a.id))
            if exists is None:
                s.add(CampaignAgent(campaign_id=c.id, agent_id=a.id))

    async def set_agent_active(self, code: str, active: bool) -> None:
        async with self.session() as s:
            (await self._agent(s, code)).active = active

    # ------------------------------------------------------------------ leads

    async def get_lead(self, campaign: str, lead: str | int) -> LeadInfo:
        """A lead by its numeric id (the engine's LeadId) or its external account id."""
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            q = select(Lead).where(Lead.campaign_id == c.id)
            key = str(lead)
            if key.isdigit():
                by_id = (await s.execute(q.where(Lead.id == int(key)))).scalar_one_or_none()
            else:
                by_id = None
            row = by_id or (await s.execute(q.where(Lead.external_id == key))).scalar_one_or_none()
            if row is None:
                raise NotFound("lead", lead)
            phones = (
                await s.execute(
                    select(Phone).where(Phone.lead_id == row.id).order_by(Phone.priority, Phone.id)
                )
            ).scalars()
            return LeadInfo(
                row.id,
                c.name,
                row.external_id,
                row.debtor_name,
                row.debt_amount,
                row.currency,
                row.days_past_due,
                row.segment,
                row.owner_agent,
                row.priority,
                dict(row.custom or {}),
                row.next_eligible_at,
                row.status,
                tuple(phone_info(p) for p in phones),
            )

    async def add_leads(
        self, campaign: str, leads: Sequence[NewLead], *, at: datetime | None = None
    ) -> list[int]:
        """Insert leads with their phones (one transaction); returns the new lead ids.
        The bulk CSV import has its own faster path (``dialer.leads_import``)."""
        now = _at(at)
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            rows = []
            for n in leads:
                lead = Lead(
                    campaign_id=c.id,
                    external_id=n.external_id,
                    debtor_name=n.debtor_name,
                    debt_amount=n.debt_amount,
                    currency=n.currency,
                    days_past_due=n.days_past_due,
                    segment=n.segment,
                    owner_agent=n.owner_agent,
                    priority=n.priority,
                    custom=dict(n.custom),
                    next_eligible_at=n.next_eligible_at or now,
                    status=LeadStatus.ACTIVE,
                    created_at=now,
                )
                s.add(lead)
                rows.append(lead)
            try:
                await s.flush()
            except IntegrityError:
                raise AlreadyExists("lead", "(same account id in the campaign)") from None
            for lead, n in zip(rows, leads, strict=True):
                for p in n.phones:
                    s.add(
                        Phone(
                            lead_id=lead.id,
                            e164=p.e164,
                            kind=p.kind,
                            priority=p.priority,
                            time_zone=p.time_zone,
                            country=p.country,
                            active=True,
                        )
                    )
            return [r.id for r in rows]

    async def lead_facts(self, lead_id: int, *, at: datetime | None = None) -> LeadFacts:
        """What the contact policy is told about the lead at ``at`` (default now): its
        active phones, the last 8 days of dials of the same debt in any campaign, DNC
        numbers, promises and open callbacks (``dialer.store.facts``)."""
        now = _at(at)
        async with self.session() as s:
            if await s.get(Lead, lead_id) is None:
                raise NotFound("lead", lead_id)
            facts, _ = await load_facts(s, [lead_id], at=now)
        return facts[lead_id]

    async def lead_counts(self, campaign: str) -> dict[str, int]:
        """Leads of the campaign by status (``active``, ``dialing``, ``closed``)."""
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            rows = await s.execute(
                select(Lead.status, func.count())
                .where(Lead.campaign_id == c.id)
                .group_by(Lead.status)
            )
            return {str(st): int(n) for st, n in rows.all()}

    async def set_lead_status(self, lead_id: int, status: LeadStatus | str) -> None:
        async with self.session() as s:
            row = await s.get(Lead, lead_id)
            if row is None:
                raise NotFound("lead", lead_id)
            row.status = LeadStatus(status)

    async def set_next_eligible(self, lead_id: int, when: datetime) -> None:
        async with self.session() as s:
            row = await s.get(Lead, lead_id)
            if row is None:
                raise NotFound("lead", lead_id)
            row.next_eligible_at = _at(when)

    # ------------------------------------------------------------------ DNC

    async def add_dnc(
        self, numbers: Sequence[str], *, source: str, at: datetime | None = None
    ) -> int:
        """Add E.164 numbers (with "+") to the do-not-call list; returns how many were new."""
        now = _at(at)
        added = 0
        async with self.session() as s:
            have = set(
                (await s.execute(select(DncEntry.number).where(DncEntry.number.in_(numbers))))
                .scalars()
                .all()
            )
            for n in dict.fromkeys(numbers):
                if n in have:
                    continue
                if not (n.startswith("+") and n[1:].isdigit() and 2 <= len(n) <= 16):
                    raise ValueError(f"number: {n!r} is not E.164 (+ and up to 15 digits)")
                s.add(DncEntry(number=n, source=source, added_at=now))
                added += 1
        return added

    async def dnc_numbers(self, numbers: Sequence[str]) -> set[str]:
        """Which of ``numbers`` are on the do-not-call list."""
        if not numbers:
            return set()
        async with self.session() as s:
            rows = await s.execute(select(DncEntry.number).where(DncEntry.number.in_(numbers)))
            return set(rows.scalars())

    async def is_dnc(self, number: str) -> bool:
        return bool(await self.dnc_numbers([number]))

    # ------------------------------------------------------------------ outcomes

    async def _attempt_by_call(self, s: AsyncSession, lead_id: int, call: str | None) -> int | None:
        if call is None:
            return None
        return (
            await s.execute(
                select(Attempt.id)
                .where(Attempt.lead_id == lead_id, Attempt.call_id == call)
                .order_by(Attempt.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def record_disposition(
        self,
        lead_id: int,
        code: str,
        *,
        agent: str | None = None,
        call: str | None = None,
        note: str = "",
        at: datetime | None = None,
    ) -> DispositionInfo:
        """Record an agent's disposition for the lead (and the attempt of ``call``, if
        given). The contact-policy consequences (DNC, closing the lead, next eligible
        time) are applied by ``dialer.store.outcomes.apply_disposition``."""
        now = _at(at)
        async with self.session() as s:
            if await s.get(Lead, lead_id) is None:
                raise NotFound("lead", lead_id)
            attempt_id = await self._attempt_by_call(s, lead_id, call)
            d = Disposition(
                attempt_id=attempt_id,
                lead_id=lead_id,
                agent=agent,
                code=code,
                note=note,
                created_at=now,
            )
            s.add(d)
            await s.flush()
            return DispositionInfo(d.id, attempt_id, lead_id, agent, code, note, now)

    async def add_promise(
        self,
        lead_id: int,
        *,
        amount: Decimal,
        due: date,
        currency: str | None = None,
        call: str | None = None,
        at: datetime | None = None,
    ) -> PromiseInfo:
        """A promise to pay ``amount`` by ``due`` (status pending)."""
        if amount <= 0:
            raise ValueError("amount: must be > 0")
        now = _at(at)
        async with self.session() as s:
            lead = await s.get(Lead, lead_id)
            if lead is None:
                raise NotFound("lead", lead_id)
            p = PromiseToPay(
                lead_id=lead_id,
                attempt_id=await self._attempt_by_call(s, lead_id, call),
                amount=amount,
                currency=currency or lead.currency,
                due_date=due,
                status=PromiseStatus.PENDING,
                created_at=now,
            )
            s.add(p)
            await s.flush()
            return promise_info(p)

    async def set_promise_status(
        self, promise_id: int, status: PromiseStatus | str, *, paid_at: datetime | None = None
    ) -> PromiseInfo:
        """Mark a promise kept (with ``paid_at``) or broken."""
        st = PromiseStatus(status)
        async with self.session() as s:
            p = await s.get(PromiseToPay, promise_id)
            if p is None:
                raise NotFound("promise", promise_id)
            p.status = st
            if st is PromiseStatus.KEPT:
                p.paid_at = _at(paid_at)
            return promise_info(p)

    async def add_callback(
        self,
        lead_id: int,
        when: datetime,
        *,
        agent: str | None = None,
        at: datetime | None = None,
    ) -> CallbackInfo:
        """Call the lead back at ``when``; ``agent`` None means anyone may take it."""
        async with self.session() as s:
            if await s.get(Lead, lead_id) is None:
                raise NotFound("lead", lead_id)
            cb = Callback(
                lead_id=lead_id, agent=agent, at=_at(when), done=False, created_at=_at(at)
            )
            s.add(cb)
            await s.flush()
            return CallbackInfo(cb.id, lead_id, agent, cb.at, False)

    # ------------------------------------------------------------------ reports

    async def attempts(
        self, campaign: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[AttemptInfo]:
        """Attempts of the campaign created in [since, until), oldest first."""
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            q = (
                select(Attempt, Phone.e164)
                .join(Phone, Phone.id == Attempt.phone_id)
                .where(Attempt.campaign_id == c.id)
                .order_by(Attempt.created_at, Attempt.id)
            )
            if since is not None:
                q = q.where(Attempt.created_at >= _at(since))
            if until is not None:
                q = q.where(Attempt.created_at < _at(until))
            return [attempt_info(a, c.name, e164) for a, e164 in (await s.execute(q)).all()]

    async def dispositions(
        self, campaign: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[DispositionInfo]:
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            q = (
                select(Disposition)
                .join(Lead, Lead.id == Disposition.lead_id)
                .where(Lead.campaign_id == c.id)
                .order_by(Disposition.created_at, Disposition.id)
            )
            if since is not None:
                q = q.where(Disposition.created_at >= _at(since))
            if until is not None:
                q = q.where(Disposition.created_at < _at(until))
            return [
                DispositionInfo(
                    d.id, d.attempt_id, d.lead_id, d.agent, d.code, d.note, d.created_at
                )
                for d in (await s.execute(q)).scalars()
            ]

    async def promises(
        self,
        campaign: str | None = None,
        *,
        lead_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PromiseInfo]:
        """Promises of a campaign (or of one lead) created in [since, until)."""
        async with self.session() as s:
            q = select(PromiseToPay).order_by(PromiseToPay.created_at, PromiseToPay.id)
            if campaign is not None:
                c = await self._campaign(s, campaign)
                q = q.join(Lead, Lead.id == PromiseToPay.lead_id).where(Lead.campaign_id == c.id)
            if lead_id is not None:
                q = q.where(PromiseToPay.lead_id == lead_id)
            if since is not None:
                q = q.where(PromiseToPay.created_at >= _at(since))
            if until is not None:
                q = q.where(PromiseToPay.created_at < _at(until))
            return [promise_info(p) for p in (await s.execute(q)).scalars()]

    async def callbacks(self, lead_id: int, *, pending_only: bool = True) -> list[CallbackInfo]:
        async with self.session() as s:
            q = select(Callback).where(Callback.lead_id == lead_id).order_by(Callback.at)
            if pending_only:
                q = q.where(Callback.done.is_(False))
            return [
                CallbackInfo(cb.id, cb.lead_id, cb.agent, cb.at, cb.done)
                for cb in (await s.execute(q)).scalars()
            ]

    async def open_attempts(self, campaign: str) -> list[AttemptInfo]:
        """Attempts still pending or placed (in flight, or left by a crash)."""
        async with self.session() as s:
            c = await self._campaign(s, campaign)
            q = (
                select(Attempt, Phone.e164)
                .join(Phone, Phone.id == Attempt.phone_id)
                .where(and_(Attempt.campaign_id == c.id, Attempt.state.in_(("pending", "placed"))))
                .order_by(Attempt.id)
            )
            return [attempt_info(a, c.name, e164) for a, e164 in (await s.execute(q)).all()]


__all__ = ["MODES", "Store", "StoreError", "hash_token", "utcnow"]
