"""The operations tables and the host's control plane on the store.

Two tables belong to operations rather than to the lead store:

- ``ops_campaign_live``: one row per campaign a host is running, rewritten every poll
  (the heartbeat): which host, its state, the engine's clock, and the live numbers
  ``dialer campaign status`` shows. A beat older than a few polls means no host runs
  the campaign any more (crashed, or stopped).
- ``ops_agent_spans``: one row per agent state span (ready, on call, wrap-up...) with
  engine wall-clock times: the report's talk, wait and wrap-up times and occupancy.

They are part of the store's schema (``Base.metadata``) and created by its migration
0003; ``ensure_tables`` still creates them when missing, for a database opened without
migrating it.
Times are tz-aware UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
)

from dialer.host_control import AgentSpan, CampaignBeat
from dialer.store import Store
from dialer.store.lease import LeaseKeeper, LeaseLost
from dialer.store.models import Base, Campaign, agent_spans, campaign_live

metadata = Base.metadata

log = logging.getLogger("dialer.ops_db")


def _utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def ensure_tables(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(
            metadata.create_all, tables=[campaign_live, agent_spans], checkfirst=True
        )


class StoreControl:
    """``dialer.host_control.ControlPlane`` on the store.

    With ``leases`` (campaign -> ``LeaseKeeper``), every beat also renews the campaigns'
    leases, so that a paused campaign (which claims nothing) keeps its owner. A campaign
    whose lease another process took (this one stalled longer than the ttl) is in
    ``lost`` and reads as ``stopped``: the host drains it and the new owner dials it."""

    def __init__(self, store: Store, *, leases: Mapping[str, LeaseKeeper] | None = None) -> None:
        self._store = store
        self._leases = dict(leases or {})
        self.lost: set[str] = set()

    async def statuses(self, campaigns: Sequence[str]) -> dict[str, str]:
        async with self._store.session() as s:
            rows = await s.execute(
                select(Campaign.name, Campaign.status).where(Campaign.name.in_(campaigns))
            )
            out = {str(name): str(status) for name, status in rows.all()}
        for name in self.lost.intersection(out):
            out[name] = "stopped"
        return out

    async def set_status(self, campaign: str, status: str) -> None:
        await self._store.set_campaign_status(campaign, status)

    async def beat(self, beats: Sequence[CampaignBeat]) -> None:
        if not beats:
            return
        now = datetime.now(UTC)
        for b in beats:
            keeper = self._leases.get(b.campaign)
            if keeper is None or b.state == "stopped" or b.campaign in self.lost:
                continue
            try:
                await keeper.ensure()
            except LeaseLost:
                log.error("campaign %s: lease taken by another process; stopping", b.campaign)
                self.lost.add(b.campaign)
        async with self._store.session() as s:
            await s.execute(
                delete(campaign_live).where(
                    campaign_live.c.campaign.in_([b.campaign for b in beats])
                )
            )
            await s.execute(
                insert(campaign_live),
                [
                    {
                        "campaign": b.campaign,
                        "host": b.host,
                        "state": b.state,
                        "beat_at": now,
                        "engine_time": b.engine_time.astimezone(UTC),
                        "started_at": b.started_at.astimezone(UTC),
                        "live": dict(b.live),
                    }
                    for b in beats
                ],
            )

    async def record_spans(self, spans: Sequence[AgentSpan]) -> None:
        if not spans:
            return
        async with self._store.session() as s:
            await s.execute(
                insert(agent_spans),
                [
                    {
                        "campaign": sp.campaign,
                        "agent": sp.agent,
                        "state": sp.state,
                        "started_at": sp.start.astimezone(UTC),
                        "ended_at": sp.end.astimezone(UTC),
                    }
                    for sp in spans
                ],
            )


async def read_beat(store: Store, campaign: str) -> dict[str, Any] | None:
    """The campaign's last heartbeat row, or None if no host ever ran it."""
    async with store.session() as s:
        row = (
            (await s.execute(select(campaign_live).where(campaign_live.c.campaign == campaign)))
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    for key in ("beat_at", "engine_time", "started_at"):
        out[key] = _utc(out[key])
    return out


async def read_spans(
    store: Store, campaign: str, *, since: datetime | None, until: datetime | None
) -> list[AgentSpan]:
    """Spans of the campaign overlapping [since, until)."""
    q = select(agent_spans).where(agent_spans.c.campaign == campaign)
    if since is not None:
        q = q.where(agent_spans.c.ended_at > since.astimezone(UTC))
    if until is not None:
        q = q.where(agent_spans.c.started_at < until.astimezone(UTC))
    async with store.session() as s:
        rows = (await s.execute(q.order_by(agent_spans.c.id))).mappings().all()
    return [
        AgentSpan(r["campaign"], r["agent"], r["state"], _utc(r["started_at"]), _utc(r["ended_at"]))
        for r in rows
    ]
