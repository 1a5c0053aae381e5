"""The campaign host behind the agent API's protocols: commands, the agents view, call
notices from every campaign, and dispositions into the store (``dialer.host_desk``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from dialer.call_notices import CallConnected, CallNotice
from dialer.campaign_host import CampaignHost
from dialer.disposition import Disposition, DispositionError
from dialer.host_desk import HostDesk, StoreDispositions
from dialer.host_run import start_host
from dialer.store import Store
from tests.ops_fixtures import seed_store, sim_backend


def test_host_desk_and_store_dispositions(tmp_path: Path) -> None:
    settings = asyncio.run(seed_store(tmp_path / "desk.db", leads=60))
    notices: list[CallNotice] = []
    agents_seen: set[str] = set()
    recorded: list[str] = []
    errors: list[str] = []
    views: list[dict[str, str]] = []

    def on_host(host: CampaignHost, store: Store) -> None:
        desk = HostDesk(host)
        desk.add_call_listener(notices.append)
        desk.add_agent_listener(lambda agent: agents_seen.add(agent.id))
        loop = asyncio.get_running_loop()
        sink = StoreDispositions(store, wall=host.clock.wall)
        tasks: list[asyncio.Task[None]] = []

        def on_call(notice: CallNotice) -> None:
            if not isinstance(notice, CallConnected) or recorded or errors:
                return

            async def dispose() -> None:
                try:
                    bad = Disposition(code="promise_to_pay", amount=Decimal(5), currency="USD")
                    await sink.record(notice.agent, notice.call, notice.target, bad)
                except DispositionError as exc:
                    errors.append(exc.field)
                await sink.record(
                    notice.agent,
                    notice.call,
                    notice.target,
                    Disposition(code="rpc", note="from the api"),
                )
                recorded.append(notice.call)
                views.append({a: s.state.value for a, s in desk.agents.items()})

            tasks.append(loop.create_task(dispose()))

        desk.add_call_listener(on_call)

    outcome = start_host(settings, ["A", "B"], sim_backend(), until=240.0, on_host=on_host)
    assert outcome.status == 0
    assert {type(n).__name__ for n in notices} >= {"CallPlaced", "CallConnected"}
    assert {str(n.campaign) for n in notices} == {"A", "B"}  # both campaigns' runners
    assert agents_seen >= {"a1", "b1", "s1"}
    assert errors == ["currency"]
    assert len(recorded) == 1
    assert views and set(views[0]) <= {"a1", "a2", "a3", "b1", "b2", "s1", "s2"}

    async def codes() -> list[tuple[str, str]]:
        store = await Store.open(settings)
        try:
            return [
                (d.code, d.note)
                for name in ("A", "B")
                for d in await store.dispositions(name)
                if d.note
            ]
        finally:
            await store.close()

    assert asyncio.run(codes()) == [("rpc", "from the api")]
