"""Small parts of the campaign host: call routing between campaigns, the held virtual
clock, the campaign settings JSON, the demo debtor file and the status rendering."""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from dialer.backends import sim_start
from dialer.campaign_config import plan_campaign
from dialer.errors import ConfigError
from dialer.ids import AgentId, CallId
from dialer.status_view import CampaignStatusData, status_panel
from dialer.telephony_mux import TelephonyMux, route_of
from simulator.demo_leads import demo_rows, write_demo_leads
from simulator.held_loop import HeldVirtualTimeLoop, clock_hold
from telephony.events import CallEvent, CallRinging
from telephony.port import Originate
from telephony.stream import EventStream
from tests.ops_fixtures import START


class _Backend:
    """A backend that records orders and replays the events it is given."""

    def __init__(self) -> None:
        self.orders: list[str] = []
        self.stream: EventStream[CallEvent] = EventStream()

    async def originate(self, request: Originate) -> None:
        self.orders.append(f"originate {request.call}")

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        self.orders.append(f"bridge {call} {agent}")

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        self.orders.append(f"play {call}")

    async def hangup(self, call: CallId) -> None:
        self.orders.append(f"hangup {call}")

    def events(self) -> AsyncIterator[CallEvent]:
        return self.stream


def test_route_of() -> None:
    assert route_of(CallId("k1rab.17")) == "k1rab."
    assert route_of(CallId("nodot")) == ""


def test_mux_routes_each_call_to_its_campaign() -> None:
    async def scenario() -> tuple[list[str], list[str], int, list[str]]:
        backend = _Backend()
        mux = TelephonyMux(backend)
        a, b = mux.port("k1r0."), mux.port("k2r0.")
        with pytest.raises(ValueError, match="already in use"):
            mux.port("k1r0.")
        with pytest.raises(ValueError, match="prefix"):
            mux.port("bad.prefix.")
        await a.originate(Originate(CallId("k1r0.1"), "L1", "5215500000001", 25.0))  # type: ignore[arg-type]
        pump = asyncio.ensure_future(mux.pump())
        for call in ("k1r0.1", "k2r0.1", "k3r0.1", "k1r0.2"):
            backend.stream.put(CallRinging(CallId(call), 0.0))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        got_a = [a.stream._buf.popleft().call for _ in range(len(a.stream))]
        got_b = [b.stream._buf.popleft().call for _ in range(len(b.stream))]
        pump.cancel()
        return got_a, got_b, mux.unrouted, backend.orders

    got_a, got_b, unrouted, orders = asyncio.run(scenario())
    assert got_a == ["k1r0.1", "k1r0.2"]
    assert got_b == ["k2r0.1"]
    assert unrouted == 1  # a prefix no running campaign owns: dropped, counted
    assert orders == ["originate k1r0.1"]


def test_held_clock_stands_still_while_io_runs() -> None:
    loop = HeldVirtualTimeLoop()

    async def work() -> tuple[float, float, float]:
        asyncio.get_running_loop().call_later(1000.0, lambda: None)  # a far timer
        t0 = loop.time()
        with clock_hold(loop):
            # Real IO on a thread (as aiosqlite does): virtual time must not jump.
            await loop.run_in_executor(None, time.sleep, 0.05)
        t1 = loop.time()
        await asyncio.sleep(10.0)  # unheld: the clock jumps straight to the timer
        return t0, t1, loop.time()

    try:
        t0, t1, t2 = loop.run_until_complete(work())
    finally:
        loop.close()
    assert t1 == t0
    assert t2 == t0 + 10.0
    assert threading.active_count() >= 1


def test_campaign_settings_json() -> None:
    plan = plan_campaign("c", "ratio", {"dial_level": 3, "abandon_target": 0.02, "max_lines": 30})
    assert (plan.pacer_name, plan.dial_level, plan.settings.max_lines) == ("ratio", 3.0, 30)
    assert plan.settings.abandon_target == 0.02
    with pytest.raises(ConfigError, match=r"abandon_targt.*did you mean 'abandon_target'"):
        plan_campaign("c", "predictive", {"abandon_targt": 0.02})
    with pytest.raises(ConfigError, match="not_sure_as_human: wrong type"):
        plan_campaign("c", "predictive", {"not_sure_as_human": 1})
    with pytest.raises(ConfigError, match="abandon_target"):
        plan_campaign("c", "predictive", {"abandon_target": 1.5})
    with pytest.raises(ConfigError, match="mode"):
        plan_campaign("c", "sideways", {})
    with pytest.raises(ConfigError, match="pacer"):
        plan_campaign("c", "predictive", {"pacer": "psychic"})


def test_sim_start_is_the_next_working_day() -> None:
    # Sunday 22 November 2026, 23:00 UTC: the next working day is Monday the 23rd.
    got = sim_start(START, now=datetime(2026, 11, 22, 23, 0, tzinfo=UTC), countries=("MX",))
    assert got == datetime(2026, 11, 23, 9, 0, tzinfo=START.tzinfo)
    # Monday 16 November 2026 is Mexico's Revolution Day (third Monday of November).
    got = sim_start(START, now=datetime(2026, 11, 15, 12, 0, tzinfo=UTC), countries=("MX",))
    assert got.date().isoformat() == "2026-11-17"


def test_demo_leads(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_demo_leads(path, 50, seed=3, block=2)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50
    assert rows == demo_rows(50, seed=3, block=2)  # same seed, same file
    other = {r["phone"] for r in demo_rows(50, seed=3, block=3)}
    assert not other & {r["phone"] for r in rows}  # blocks share no number
    assert all(r["phone"].startswith("+5255") and len(r["phone"]) == 13 for r in rows)


def test_status_panel_renders_the_live_numbers() -> None:
    data = CampaignStatusData(
        name="early",
        mode="predictive",
        status="running",
        leads={"active": 1200},
        host="vm:1",
        host_state="running",
        live={
            "agents": {"ready": 3, "on_call": 9},
            "in_flight": 14,
            "dials": 512,
            "live": 90,
            "connected": 87,
            "abandoned": 3,
            "dial_level": 1.17,
            "abandon_rate_shift": 3 / 90,
            "abandon_rate_rolling": 0.01,
            "abandon_target": 0.03,
        },
        contacts=40,
        right_party_contacts=25,
        promises=7,
    )
    console = Console(record=True, width=100)
    console.print(status_panel(data))
    text = console.export_text()
    for needle in ("early", "on_call", "512", "3.33%", "1.00%", "1.17", "1,200", "host vm:1"):
        assert needle in text
