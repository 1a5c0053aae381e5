"""The network services of a running campaign host: the agent API and the metrics endpoint.

``start_services`` is given the host and its store once both exist and before any
campaign starts (``dialer.host_run.start_host``'s ``services`` hook); it serves

- the agent HTTP API (``dialer.agent_api``) on ``[api] host:port``, with agent tokens
  checked against the store (hashes only), lead cards read from the store for
  screen-pops, and dispositions recorded through the same path the simulated agents use
  (``dialer.host_desk.StoreDispositions``);
- Prometheus metrics (``dialer.metrics``) on ``[metrics] host:port``, each campaign's
  runner attached as it starts and detached when it ends,

and returns the coroutine function that closes both. Loopback addresses by default.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dialer.agent_api import AgentApi, ApiSettings
from dialer.campaign_host import CampaignHost
from dialer.http_site import HttpSite
from dialer.ids import AgentId, CampaignId, LeadId
from dialer.metrics import DialerMetrics, MetricsSettings
from dialer.runner import CampaignRunner
from dialer.store import Store
from dialer.store.models import Lead

log = logging.getLogger("dialer.services")

LAST_PROMISES = 3  # promises shown on a screen-pop, most recent first

Cleanup = Callable[[], Awaitable[None]]


class StoreDirectory:
    """Agent tokens checked against the store (only their SHA-256 is stored)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def authenticate(self, token: str) -> AgentId | None:
        info = await self._store.verify_token(token)
        return None if info is None else AgentId(info.code)


class StoreCards:
    """What an agent sees about a debtor when the call is bridged."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def card(self, lead: LeadId) -> Mapping[str, object]:
        if not str(lead).isdigit():
            return {"lead": lead}
        async with self._store.session() as s:
            row = (await s.execute(select(Lead).where(Lead.id == int(lead)))).scalar_one_or_none()
            if row is None:
                return {"lead": lead}
            card: dict[str, object] = {
                "lead": lead,
                "name": row.debtor_name,
                "account": row.external_id,
                "debt": str(row.debt_amount),
                "currency": row.currency,
                "days_past_due": row.days_past_due,
                "segment": row.segment,
                "owner": row.owner_agent,
                "custom": dict(row.custom or {}),
            }
        promises = await self._store.promises(lead_id=int(lead))
        card["last_promises"] = [
            {
                "amount": str(p.amount),
                "currency": p.currency,
                "due": p.due_date.isoformat(),
                "status": p.status,
            }
            for p in sorted(promises, key=lambda p: p.created_at, reverse=True)[:LAST_PROMISES]
        ]
        return card


@dataclass(frozen=True, slots=True)
class Services:
    api: ApiSettings
    metrics: MetricsSettings


async def start_services(
    host: CampaignHost,
    store: Store,
    services: Services,
    *,
    announce: Callable[[str], None] = print,
) -> Cleanup:
    """Serve what ``services`` enables; the returned coroutine function stops it all."""
    from dialer.host_desk import HostDesk, StoreDispositions  # noqa: PLC0415 - heavy, late

    closers: list[Cleanup] = []
    try:
        if services.metrics.enabled:
            metrics = DialerMetrics()

            def attach(campaign: str, runner: CampaignRunner) -> None:
                metrics.attach(runner)

            def detach(campaign: str, runner: CampaignRunner) -> None:
                metrics.detach(CampaignId(campaign))

            host.on_runner_started(attach)
            host.on_runner_stopped(detach)
            site = HttpSite(metrics.app(), host=services.metrics.host, port=services.metrics.port)
            port = await site.start()
            closers.append(site.close)
            announce(f"metrics: http://{_show(services.metrics.host)}:{port}/metrics")
        if services.api.enabled:
            wall: Callable[[], datetime] = host.clock.wall
            api = AgentApi(
                desk=HostDesk(host),
                directory=StoreDirectory(store),
                cards=StoreCards(store),
                dispositions=StoreDispositions(store, wall=wall),
                now=wall,
                settings=services.api,
            )
            port = await api.start()
            closers.append(api.close)
            announce(f"agent API: http://{_show(services.api.host)}:{port}/v1/me")
    except BaseException:
        for close in reversed(closers):
            await close()
        raise

    async def cleanup() -> None:
        for close in reversed(closers):
            try:
                await close()
            except Exception:  # closing one service must not keep the others open
                log.exception("closing a service failed")

    return cleanup


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
