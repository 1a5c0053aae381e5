"""Fetch a campaign's rows from the store and compute its KPIs (``dialer.kpis``).

Attempts are fetched from 30 days before the window's end (the TCPA measurement period,
``kpis.TCPA_PERIOD``) so that ``abandon_rate_30d`` is complete whatever the window.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dialer.kpis import (
    TCPA_PERIOD,
    AgentSpanRow,
    AttemptRow,
    DispositionRow,
    PromiseRow,
    Report,
    Window,
    compute,
)
from dialer.ops_db import read_spans
from dialer.store import Store


async def campaign_report(store: Store, campaign: str, window: Window) -> Report:
    """The KPIs of ``campaign`` over ``window`` (raises ``NotFound`` for a bad name)."""
    await store.get_campaign(campaign)
    now = datetime.now(UTC)
    attempts = await store.attempts(campaign, until=window.end)
    # The end of the TCPA period: the window's end, else the last dial (a simulated
    # campaign's clock is virtual and may lie in the future or the past of ``now``).
    placed = [a.placed_at for a in attempts if a.placed_at is not None]
    end = window.end or (max(placed) if placed else now)
    since = end - TCPA_PERIOD
    if window.start is not None:
        since = min(since, window.start)
    rows = [
        AttemptRow(
            lead=str(a.lead_id),
            placed_at=a.placed_at,
            outcome=a.outcome,
            abandoned=a.abandoned,
            agent=a.agent,
        )
        for a in attempts
        if a.created_at >= since
    ]
    dispositions = [
        DispositionRow(str(d.lead_id), d.code, d.created_at, d.agent)
        for d in await store.dispositions(campaign, since=window.start, until=window.end)
    ]
    promises = [
        PromiseRow(str(p.lead_id), p.amount, p.currency, p.due_date, p.status, p.created_at)
        for p in await store.promises(campaign, since=window.start, until=window.end)
    ]
    spans = [
        AgentSpanRow(s.agent, s.state, s.start, s.end)
        for s in await read_spans(store, campaign, since=window.start, until=window.end)
    ]
    return compute(
        campaign,
        window=window,
        now=end if window.end is None else window.end,
        attempts=rows,
        dispositions=dispositions,
        promises=promises,
        spans=spans,
    )
