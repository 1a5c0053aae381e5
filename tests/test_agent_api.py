"""The agent HTTP API (``dialer.agent_api``) and the metrics endpoint, over real loopback TCP.

A real ``CampaignRunner`` runs progressive calls against ``ScriptedTelephony`` in real
(short) time; desktops talk to the API with a real HTTP client. The store's parts (tokens,
lead cards, the disposition sink) are the small in-memory classes below: what is tested
here is the HTTP contract and its wiring to the engine.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from dialer.agent_api import AgentApi, ApiSettings, StaticDirectory
from dialer.clock import Clock
from dialer.disposition import Disposition
from dialer.http_site import HttpSite
from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import DialTarget
from dialer.metrics import DialerMetrics
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from pacing.progressive import ProgressivePacer
from simulator.portfolio import SyntheticPortfolio
from telephony.scripted import Script, ScriptedTelephony

A, B = AgentId("A"), AgentId("B")
TOKENS = {"tok-a-7f3e": A, "tok-b-91c2": B}
QUICK = Script(ring=0.05, decision=0.05, talk=0.3, bridge_delay=0.02, ringing=0.01)


class Cards:
    async def card(self, lead: LeadId) -> Mapping[str, object]:
        return {"lead": lead, "name": "Rosa Pérez", "debt": "12500.00", "days_past_due": 45}


@dataclass
class Sink:
    recorded: list[tuple[AgentId, CallId, DialTarget, Disposition]] = field(default_factory=list)

    async def record(
        self, agent: AgentId, call: CallId, target: DialTarget, disposition: Disposition
    ) -> None:
        self.recorded.append((agent, call, target, disposition))


@dataclass
class Floor:
    runner: CampaignRunner
    api: AgentApi
    sink: Sink
    base: str
    session: aiohttp.ClientSession
    metrics: DialerMetrics
    metrics_port: int

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def post(
        self, path: str, token: str, body: object = None
    ) -> tuple[int, dict[str, object]]:
        async with self.session.post(self.base + path, json=body, headers=self.auth(token)) as resp:
            return resp.status, await resp.json()


@pytest_asyncio.fixture
async def floor() -> AsyncIterator[Floor]:
    loop = asyncio.get_running_loop()
    tel = ScriptedTelephony(default=QUICK)
    runner = CampaignRunner(
        settings=CampaignSettings(tick_interval=0.02, min_tick_interval=0.02),
        telephony=tel,
        leads=SyntheticPortfolio(1000),
        pacer=ProgressivePacer(),
        clock=Clock(loop, wall_at_start=datetime.now(UTC)),
    )
    metrics = DialerMetrics()
    metrics.attach(runner)
    sink = Sink()
    api = AgentApi(
        desk=runner,
        directory=StaticDirectory(TOKENS),
        cards=Cards(),
        dispositions=sink,
        now=lambda: datetime.now(UTC),
        settings=ApiSettings(port=0, custom_codes=frozenset({"paid_already"})),
    )
    port = await api.start()
    msite = HttpSite(metrics.app(), port=0)
    mport = await msite.start()
    task = asyncio.ensure_future(runner.run())
    async with aiohttp.ClientSession() as session:
        yield Floor(runner, api, sink, f"http://127.0.0.1:{port}", session, metrics, mport)
    runner.stop()
    tel.close()
    await asyncio.wait_for(task, 5)
    await api.close()
    await msite.close()


async def read_events(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, dict[str, object]]]:
    event = None
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event is not None:
            yield event, json.loads(line[6:])
            event = None


@pytest.mark.asyncio
async def test_requests_without_a_valid_token_are_refused(floor: Floor) -> None:
    async with floor.session.get(floor.base + "/v1/me") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    async with floor.session.get(floor.base + "/v1/me", headers=floor.auth("nope")) as resp:
        assert resp.status == 401
        assert "nope" not in await resp.text()  # a token is never echoed
    async with floor.session.get(
        floor.base + "/v1/me", headers={"Authorization": "Basic dG9rLWEtN2YzZQ=="}
    ) as resp:
        assert resp.status == 401
    status, body = await floor.post("/v1/me/login", "tok-a-7f3e")
    assert status == 200 and body["agent"] == "A" and body["state"] == "ready"


@pytest.mark.asyncio
async def test_screen_pop_then_disposition_ends_the_wrapup(floor: Floor) -> None:
    async with floor.session.get(
        floor.base + "/v1/me/events", headers=floor.auth("tok-a-7f3e")
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = read_events(stream)
        first = await anext(events)
        assert first == ("state", {"agent": "A", "state": "offline", "call": None})
        status, _ = await floor.post("/v1/me/login", "tok-a-7f3e")
        assert status == 200
        seen: list[tuple[str, dict[str, object]]] = []
        async with asyncio.timeout(5):
            async for ev in events:
                seen.append(ev)
                if ev[0] == "state" and ev[1]["state"] == "wrapup":
                    break
    pops = [data for kind, data in seen if kind == "screen-pop"]
    assert len(pops) == 1
    pop = pops[0]
    assert pop["card"] == {
        "lead": pop["lead"],
        "name": "Rosa Pérez",
        "debt": "12500.00",
        "days_past_due": 45,
    }
    states = [data["state"] for kind, data in seen if kind == "state"]
    assert states[:3] == ["ready", "reserved", "on_call"]
    call = str(pop["call"])

    # Agent B may not set A's disposition; nor may A set one for a call that is not its own.
    status, body = await floor.post(
        f"/v1/calls/{call}/disposition", "tok-b-91c2", {"code": "refused"}
    )
    assert status == 403
    status, body = await floor.post("/v1/calls/zzz/disposition", "tok-a-7f3e", {"code": "x"})
    assert status == 403
    # A bad disposition names its field; the agent stays in wrap-up.
    due = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    status, body = await floor.post(
        f"/v1/calls/{call}/disposition", "tok-a-7f3e", {"code": "promise_to_pay", "due": due}
    )
    assert status == 400 and str(body["error"]).startswith("amount:")
    assert floor.runner.agents[A].state.value == "wrapup"
    status, body = await floor.post(
        f"/v1/calls/{call}/disposition",
        "tok-a-7f3e",
        {"code": "promise_to_pay", "amount": "1500.50", "currency": "MXN", "due": due},
    )
    assert status == 200, body
    assert body["recorded"] == "promise_to_pay"
    ((agent, rec_call, target, disp),) = floor.sink.recorded
    assert (agent, rec_call, target.lead) == (A, call, pop["lead"])
    assert disp.amount == Decimal("1500.50") and disp.right_party
    # The disposition ended the wrap-up: A is ready (or already on its next call).
    assert floor.runner.agents[A].state.value in ("ready", "reserved", "on_call")


@pytest.mark.asyncio
async def test_pause_needs_a_reason_and_illegal_moves_are_conflicts(floor: Floor) -> None:
    status, body = await floor.post("/v1/me/pause", "tok-b-91c2", {"reason": "lunch"})
    assert status == 400  # B never logged in: unknown to the engine
    await floor.post("/v1/me/login", "tok-b-91c2")
    status, body = await floor.post("/v1/me/pause", "tok-b-91c2", {})
    assert status == 400 and "reason" in str(body["error"])
    async with floor.session.post(
        floor.base + "/v1/me/pause", data=b"{not json", headers=floor.auth("tok-b-91c2")
    ) as resp:
        assert resp.status == 400
    # B is reserved or on a call by now, or still ready: pausing is legal only from
    # ready or wrap-up; poll until B is in wrap-up, then pause works.
    async with asyncio.timeout(5):
        while floor.runner.agents[B].state.value != "wrapup":
            await asyncio.sleep(0.01)
    status, body = await floor.post("/v1/me/pause", "tok-b-91c2", {"reason": "lunch"})
    assert status == 200 and body["state"] == "paused" and body["pause_reason"] == "lunch"
    status, body = await floor.post("/v1/me/pause", "tok-b-91c2", {"reason": "again"})
    assert status == 409
    status, body = await floor.post("/v1/me/ready", "tok-b-91c2")
    assert status == 200 and body["state"] in ("ready", "reserved")
    status, body = await floor.post("/v1/me/logout", "tok-b-91c2")
    assert status in (200, 409)  # 409 if a reserved call is being placed for B


@pytest.mark.asyncio
async def test_metrics_count_calls_and_show_agents(floor: Floor) -> None:
    await floor.post("/v1/me/login", "tok-a-7f3e")
    async with asyncio.timeout(5):
        while floor.runner.stats.connected < 1:
            await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{floor.metrics_port}/metrics"
    async with floor.session.get(url) as resp:
        assert resp.status == 200
        text = await resp.text()
    lines = set(text.splitlines())
    assert 'dialer_dials_total{campaign="default"} 1.0' in lines
    assert 'dialer_live_answers_total{campaign="default"} 1.0' in lines
    assert 'dialer_amd_verdicts_total{campaign="default",verdict="human"} 1.0' in lines
    assert 'dialer_connect_delay_seconds_count{campaign="default"} 1.0' in lines
    assert 'dialer_agents{campaign="default",state="on_call"} 1.0' in lines
    assert 'dialer_calls_in_flight{campaign="default"} 1.0' in lines
    assert 'dialer_dial_level{campaign="default"} 1.0' in lines
    assert 'dialer_abandon_target{campaign="default"} 0.03' in lines
    assert 'dialer_abandons_total{campaign="default"} 0.0' in lines


def test_api_binds_loopback_by_default() -> None:
    assert ApiSettings().host == "127.0.0.1"
    with pytest.raises(ValueError, match="port"):
        ApiSettings(port=70000)


def test_grafana_dashboard_queries_only_metrics_we_export() -> None:
    """The shipped dashboard and the exporter cannot drift: every metric a panel queries
    is one ``DialerMetrics`` exposes."""
    path = Path(__file__).resolve().parents[1] / "dashboards" / "grafana-dialer.json"
    dash = json.loads(path.read_text(encoding="utf-8"))
    exported = {
        line.split()[2]
        for line in DialerMetrics().exposition().decode().splitlines()
        if line.startswith("# TYPE")
    }
    # Histogram series and counters appear with their suffixes in PromQL.
    names = set()
    for name in exported:
        names |= {name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    names |= {"dialer_agents", "dialer_calls_in_flight", "dialer_dial_level"}
    names |= {"dialer_abandon_rate", "dialer_abandon_target"}
    queried = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\bdialer_[a-z_]+", target["expr"]))
    assert queried, "the dashboard queries nothing"
    assert queried <= names, queried - names
