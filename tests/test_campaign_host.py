"""The campaign host on a real SQLite file and the simulated PBX: two campaigns at once,
agents shared between them, and the database as control plane (pause, resume, stop)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agents.state import AgentState
from dialer.backends import BackendSettings, open_backend
from dialer.campaign_host import CampaignHost, HostSettings
from dialer.errors import DialerError
from dialer.host_run import start_host
from dialer.ids import AgentId
from dialer.ops_db import ensure_tables, read_beat, read_spans
from dialer.store import Store, StoreSettings
from dialer.store.models import Attempt, Campaign
from tests.ops_fixtures import AGENTS, START, demo_scenario, seed_store, sim_backend


def test_two_campaigns_at_once(tmp_path: Path) -> None:
    settings = asyncio.run(seed_store(tmp_path / "ops.db"))
    started: list[str] = []
    stopped: list[str] = []
    backend = sim_backend()
    outcome = start_host(
        settings,
        ["A", "B"],
        backend,
        until=600.0,
        host_settings=HostSettings(drain_timeout=300.0),
        on_host=lambda host, store: (
            host.on_runner_started(lambda name, runner: started.append(name)),
            host.on_runner_stopped(lambda name, runner: stopped.append(name)),
        ),
    )
    assert outcome.status == 0, outcome.error
    assert sorted(started) == ["A", "B"]
    assert sorted(stopped) == ["A", "B"]
    for name in ("A", "B"):
        assert int(outcome.live[name]["dials"]) > 10  # type: ignore[call-overload]
        assert sum(outcome.dispositions.get(name, {}).values()) > 0

    async def check() -> None:
        store = await Store.open(settings)
        try:
            async with store.session() as s:
                rows = (
                    await s.execute(
                        select(Campaign.name, Campaign.id, Campaign.status, Attempt.call_id).join(
                            Attempt, Attempt.campaign_id == Campaign.id
                        )
                    )
                ).all()
            by_campaign = defaultdict(list)
            for name, cid, status, call in rows:
                assert status == "stopped"
                by_campaign[name].append(call)
                # Each campaign's calls carry its own prefix: the mux routes by it.
                assert call.startswith(f"k{cid}r")
            assert set(by_campaign) == {"A", "B"}
            # Every attempt records when the far end picked up: answered calls
            # between placing and ending, unanswered ones never.
            answered = {"connected", "abandoned", "lost", "machine", "hung_up_in_detection"}
            checked = 0
            for name in ("A", "B"):
                for a in await store.attempts(name):
                    if a.state != "finished":
                        continue
                    assert a.placed_at is not None and a.ended_at is not None
                    if a.outcome in answered:
                        assert a.answered_at is not None, a
                        assert a.placed_at <= a.answered_at <= a.ended_at, a
                        checked += 1
                    elif a.outcome in ("no_answer", "busy", "failed", "cancelled"):
                        assert a.answered_at is None, a
            assert checked > 5
            assert len(await store.dispositions("A")) + len(await store.dispositions("B")) > 0
            # An agent works for one campaign at a time: its spans never overlap, and
            # it only ever works for campaigns it is assigned to.
            spans = [*await read_spans(store, "A", since=None, until=None)]
            spans += await read_spans(store, "B", since=None, until=None)
            per_agent = defaultdict(list)
            for sp in spans:
                assert sp.campaign in AGENTS[sp.agent]
                per_agent[sp.agent].append(sp)
            assert set(per_agent) == set(AGENTS)
            for agent_spans in per_agent.values():
                agent_spans.sort(key=lambda sp: (sp.start, sp.end))
                for before, after in itertools.pairwise(agent_spans):
                    assert before.end <= after.start
        finally:
            await store.close()

    asyncio.run(check())


async def _wait_beat(
    store: Store, name: str, state: str, timeout: float = 30.0
) -> dict[str, object]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        beat = await read_beat(store, name)
        if beat is not None and beat["state"] == state:
            return beat
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never reached {state}")


def _operator(settings: StoreSettings, log: list[str], errors: list[BaseException]) -> None:
    """Another terminal: pause, resume and stop campaigns through the database only."""

    async def run() -> None:
        store = await Store.open(settings)
        await ensure_tables(store)
        try:
            await _wait_beat(store, "A", "running")
            await store.set_campaign_status("A", "paused")
            paused = await _wait_beat(store, "A", "paused")
            log.append("paused")
            await asyncio.sleep(1.5)  # about 30 engine seconds at speed 20
            beat = await read_beat(store, "A")
            assert beat is not None
            # No new dial while paused (calls in flight still end).
            assert beat["live"]["dials"] == paused["live"]["dials"]  # type: ignore[index]
            await store.set_campaign_status("A", "running")
            resumed = await _wait_beat(store, "A", "running")
            log.append("resumed")
            end = time.monotonic() + 20
            while time.monotonic() < end:
                beat = await read_beat(store, "A")
                assert beat is not None
                if beat["live"]["dials"] > resumed["live"]["dials"]:  # type: ignore[index, operator]
                    log.append("dialling again")
                    break
                await asyncio.sleep(0.2)
            log.append("stopped")
        finally:
            # Whatever happened, the host must end (a failed check must not leave it
            # running its three simulated hours).
            await store.set_campaign_status("A", "stopped")
            await store.set_campaign_status("B", "stopped")
            await store.close()

    try:
        asyncio.run(run())
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def test_pause_resume_and_stop_through_the_database(tmp_path: Path) -> None:
    settings = asyncio.run(seed_store(tmp_path / "ops.db"))
    log: list[str] = []
    errors: list[BaseException] = []
    operator = threading.Thread(target=_operator, args=(settings, log, errors))
    operator.start()
    t0 = time.monotonic()
    outcome = start_host(
        settings,
        ["A", "B"],
        sim_backend(speed=20.0),
        until=3 * 3600.0,  # would take 9 minutes: only the stop ends it
        host_settings=HostSettings(drain_timeout=60.0, poll_interval=0.25),
    )
    elapsed = time.monotonic() - t0
    operator.join(timeout=30)
    if errors:
        raise errors[0]
    assert log == ["paused", "resumed", "dialling again", "stopped"]
    assert outcome.status == 0
    assert elapsed < 120  # the stop ended the host, with a bounded drain

    async def statuses() -> dict[str, str]:
        store = await Store.open(settings)
        try:
            async with store.session() as s:
                rows = await s.execute(select(Campaign.name, Campaign.status))
                return {str(n): str(st) for n, st in rows.all()}
        finally:
            await store.close()

    assert asyncio.run(statuses()) == {"A": "stopped", "B": "stopped"}


def test_unknown_campaign_starts_nothing(tmp_path: Path) -> None:
    settings = asyncio.run(seed_store(tmp_path / "ops.db", leads=5))
    outcome = start_host(settings, ["A", "nope"], sim_backend(), until=60.0)
    assert outcome.status == 2
    assert outcome.error is not None and "nope" in outcome.error

    async def running() -> int:
        store = await Store.open(settings)
        try:
            async with store.session() as s:
                q = select(func.count()).select_from(Campaign).where(Campaign.status == "running")
                return int((await s.execute(q)).scalar_one())
        finally:
            await store.close()

    assert asyncio.run(running()) == 0  # A was not marked running either


pytestmark = pytest.mark.filterwarnings("error")


def test_agent_commands_for_the_api(tmp_path: Path) -> None:
    """The commands the agent API calls: login places the agent by the rule, pause and
    resume go to its campaign, and an agent of no running campaign is refused."""
    settings = asyncio.run(seed_store(tmp_path / "ops.db", leads=50))
    seen: list[tuple[str, str | None, str | None]] = []
    errors: list[str] = []

    def on_host(host: CampaignHost, store: Store) -> None:
        # An agent driven by the API, not by the simulated floor: it may work for both.
        host.assign(AgentId("api1"), ["A", "B"])
        loop = asyncio.get_running_loop()

        def step(what: str) -> None:
            agent = AgentId("api1")
            try:
                if what == "login":
                    host.login(agent)
                elif what == "pause":
                    host.pause(agent, "coffee")
                elif what == "resume":
                    host.resume(agent)
                elif what == "logout":
                    host.logout(agent)
                elif what == "stranger":
                    host.login(AgentId("nobody"))
            except DialerError as exc:
                errors.append(f"{what}: {exc}")
            state = host.agent_state(agent)
            seen.append((what, host.agent_campaign(agent), None if state is None else state.state))

        for delay, what in ((1, "login"), (2, "pause"), (50, "resume"), (51, "stranger")):
            loop.call_later(delay, step, what)

        # Logging out mid-call is refused by the agent state machine; the API retries
        # after the wrap-up. Here: log out once the agent is idle or paused.
        def logout_when_free() -> None:
            state = host.agent_state(AgentId("api1"))
            if state is not None and state.state in (AgentState.READY, AgentState.PAUSED):
                step("logout")
            else:
                loop.call_later(1.0, logout_when_free)

        loop.call_later(60, logout_when_free)

    outcome = start_host(settings, ["A", "B"], sim_backend(), until=120.0, on_host=on_host)
    assert outcome.status == 0
    login, pause, resume, stranger, logout = seen
    assert login[1] in ("A", "B") and login[2] == "ready"
    assert pause == ("pause", login[1], "paused")
    assert resume[1] in ("A", "B") and resume[2] is not None and resume[2] != "paused"
    assert stranger[0] == "stranger" and errors == [
        "stranger: agent 'nobody' is not assigned to any running campaign"
    ]
    assert logout == ("logout", None, None)


def test_simulated_agents_follow_the_scenarios_schedule(tmp_path: Path) -> None:
    """A scenario planning 20 agents steps down to 10 at 200 s and back to 20 at 400 s:
    the host's 7 agents step down to round(7 * 10 / 20) = 4, idle ones at once and busy
    ones after their call, then all 7 are back."""
    settings = asyncio.run(seed_store(tmp_path / "ops.db"))
    text = demo_scenario().read_text(encoding="utf-8")
    text = text.replace("duration = 10800", "duration = 600")
    text = text.replace("schedule = [[5400, 16], [6300, 20]]", "schedule = [[200, 10], [400, 20]]")
    scenario = tmp_path / "steps.toml"
    scenario.write_text(text, encoding="utf-8")
    backend = open_backend(
        BackendSettings(kind="sim", scenario=scenario, speed=0.0, seed=7, start=START)
    )
    samples: dict[int, int] = {}
    logouts: list[float] = []

    def logged_in(host: CampaignHost) -> int:
        return sum(1 for a in AGENTS if host.agent_campaign(AgentId(a)) is not None) + len(
            host.unattached()
        )

    def on_host(host: CampaignHost, store: Store) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for t in (150, 395, 590):
            loop.call_at(t0 + t, lambda t=t: samples.__setitem__(t, logged_in(host)))

        def on_agent(campaign: str, agent: object) -> None:
            # Shared agents also go offline in one campaign when they move to the other.
            shared = len(AGENTS.get(getattr(agent, "id", ""), ())) > 1
            if getattr(agent, "state", None) is AgentState.OFFLINE and not shared:
                logouts.append(loop.time() - t0)

        host.add_agent_listener(on_agent)

    outcome = start_host(
        settings,
        ["A", "B"],
        backend,
        until=600.0,
        host_settings=HostSettings(drain_timeout=300.0),
        on_host=on_host,
    )
    assert outcome.status == 0, outcome.error
    assert samples[150] == 7
    assert samples[395] == 4  # 3 left: idle ones at 200 s, busy ones after their call
    assert samples[590] == 7
    # Nobody left before the step; leaving agents finished their calls first.
    assert logouts and min(logouts) >= 200.0
