"""The agent API and the metrics endpoint served beside a running campaign host
(``dialer.services``): real SQLite store, the simulator backend, real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from dialer.agent_api import ApiSettings
from dialer.campaign_host import CampaignHost
from dialer.cli import main
from dialer.host_run import start_host
from dialer.metrics import MetricsSettings
from dialer.services import Services, start_services
from dialer.store import Store, StoreSettings
from tests.ops_fixtures import AGENTS, seed_store, sim_backend


async def _tokens(settings_path: Path) -> list[str]:
    store = await Store.open(StoreSettings(url=str(settings_path)))
    try:
        return [await store.rotate_token(code) for code in AGENTS]
    finally:
        await store.close()


def test_api_and_metrics_serve_a_running_host(tmp_path: Path) -> None:
    db = tmp_path / "svc.db"
    settings = asyncio.run(seed_store(db, leads=80))
    tokens = asyncio.run(_tokens(db))
    seen: dict[str, object] = {}
    announced: list[str] = []

    async def services(host: CampaignHost, store: Store) -> Callable[[], Awaitable[None]]:
        chosen = Services(api=ApiSettings(port=0), metrics=MetricsSettings(port=0))
        close = await start_services(host, store, chosen, announce=announced.append)
        api_url = announced[1].removesuffix("/v1/me").split(" ", 2)[2]
        metrics_url = announced[0].split(" ", 1)[1]

        async def probe() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{api_url}/v1/me") as resp:
                    seen["no_token"] = resp.status
                async with http.get(metrics_url) as resp:
                    seen["metrics"] = await resp.text()
                # Every agent's desktop listens; the first screen-pop to any ends the probe.
                pops: asyncio.Queue[dict[str, object]] = asyncio.Queue()

                async def listen(token: str) -> None:
                    auth = {"Authorization": f"Bearer {token}"}
                    async with http.get(f"{api_url}/v1/me/events", headers=auth) as resp:
                        seen["events_status"] = resp.status
                        event = None
                        async for raw in resp.content:
                            line = raw.decode().rstrip("\n")
                            if line.startswith("event: "):
                                event = line[7:]
                            elif line.startswith("data: ") and event == "screen-pop":
                                await pops.put(json.loads(line[6:]))

                listeners = [asyncio.ensure_future(listen(t)) for t in tokens]
                try:
                    seen["pop"] = await pops.get()
                finally:
                    for listener in listeners:
                        listener.cancel()
                    await asyncio.gather(*listeners, return_exceptions=True)

        task = asyncio.get_running_loop().create_task(probe())

        async def stop() -> None:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await close()

        return stop

    outcome = start_host(
        settings, ["A", "B"], sim_backend(speed=30.0), until=180.0, services=services
    )
    assert outcome.status == 0, outcome.error
    assert announced[0].startswith("metrics: http://127.0.0.1:")
    assert announced[1].startswith("agent API: http://127.0.0.1:")
    assert seen["no_token"] == 401
    assert seen["events_status"] == 200
    pop = seen["pop"]
    assert isinstance(pop, dict)
    card = pop["card"]
    assert card["currency"] == "MXN" and card["debt"] == "2500.00"
    assert str(card["account"]).split("-")[0] in ("A", "B")
    assert card["last_promises"] == [] or isinstance(card["last_promises"], list)
    metrics = str(seen["metrics"])
    assert 'dialer_dials_total{campaign="A"}' in metrics
    assert 'dialer_agents{campaign="B",state="ready"}' in metrics or 'campaign="B"' in metrics


def test_campaign_start_refuses_a_bad_services_config(tmp_path: Path, capsys: object) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[api]\nport = 99999\n", encoding="utf-8")
    db = tmp_path / "x.db"
    status = main(["campaign", "start", "A", "--db", str(db), "--config", str(config)])
    assert status == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "api.port" in err and "0..65535" in err
