"""`dialer campaign start --backend ami`'s path: store-backed campaigns on the campaign host
through the real AMI adapter, against the AMI emulator (in its own thread and event loop,
as a PBX is its own machine) over loopback TCP.

Agents log in through their phones (the emulator's ``agent_login``): the host learns it
from the adapter's presence events and attaches each to a campaign; the test plays the
agent desktops only to end wrap-ups. The engine runs on the real clock, its wall clock
pinned to a Monday morning in Mexico City so the calling windows are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from agents.state import Agent, AgentState
from dialer.backends import AmiBackend, BackendSettings, open_backend
from dialer.campaign_host import CampaignHost
from dialer.cli import main
from dialer.host_run import start_host
from dialer.ids import AgentId
from dialer.store import Store
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from telephony.ami_settings import AmiSettings, Trunk
from tests.ops_fixtures import START, seed_store

SCALE = 0.2  # emulator: wall seconds per modelled second
SECRET = "s3cr3t-host-ami"


class EmulatorThread:
    """The emulator on its own loop in a thread; ``call(fn)`` runs ``fn`` on that loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.emu: AmiEmulator | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        # The engine's hold (20 modelled s = 4 s) outlasts its 2 s connect deadline.
        plan = DialplanConfig(engine_routing=True, hold=20.0)
        script = CallScript(Outcome.HUMAN, talk=5.0)
        self._stop = asyncio.Event()
        async with AmiEmulator(
            secret=SECRET, time_scale=SCALE, dialplan=plan, default_script=script
        ) as emu:
            self.emu = emu
            self.ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[[AmiEmulator], None]) -> None:
        emu = self.emu
        assert emu is not None
        self.loop.call_soon_threadsafe(fn, emu)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


@pytest.fixture
def pbx() -> Iterator[EmulatorThread]:
    t = EmulatorThread()
    t.thread.start()
    assert t.ready.wait(10)
    yield t
    t.stop()


def server(t: EmulatorThread) -> AmiSettings:
    assert t.emu is not None
    return AmiSettings(
        host=t.emu.host,
        port=t.emu.port,
        secret=SECRET,
        trunks=(Trunk(name="carrier", template="PJSIP/{number}@carrier", channels=100),),
        reconnect_min=0.05,
        reconnect_max=0.2,
    )


def test_store_backed_campaigns_dial_through_asterisk(tmp_path: Path, pbx: EmulatorThread) -> None:
    settings = asyncio.run(seed_store(tmp_path / "ami.db", leads=40))
    backend = open_backend(BackendSettings(kind="ami", ami=(server(pbx),), start=START))
    assert isinstance(backend, AmiBackend)
    attached: dict[str, str] = {}

    async def desktops(host: CampaignHost, store: Store) -> Callable[[], Awaitable[None]]:
        loop = asyncio.get_running_loop()

        def on_agent(campaign: str, agent: Agent) -> None:
            attached.setdefault(agent.id, campaign)
            if agent.state is AgentState.WRAPUP:  # the desktop sets a disposition
                loop.call_later(0.2, _finish, host, agent.id)

        host.add_agent_listener(on_agent)
        # The agents pick up their phones once the engine is connected.
        pbx.call(lambda emu: (emu.agent_login("a1"), emu.agent_login("b1")))

        async def close() -> None:
            return None

        return close

    outcome = start_host(settings, ["A", "B"], backend, until=8.0, services=desktops)
    assert outcome.status == 0, outcome.error
    # Each agent was attached to its own campaign by the host, from its phone's login.
    assert attached.get("a1") == "A" and attached.get("b1") == "B"

    async def attempts() -> dict[str, Counter[str]]:
        store = await Store.open(settings)
        try:
            return {
                name: Counter(a.outcome or "open" for a in await store.attempts(name))
                for name in ("A", "B")
            }
        finally:
            await store.close()

    counts = asyncio.run(attempts())
    assert counts["A"]["connected"] >= 1, counts
    assert counts["B"]["connected"] >= 1, counts
    assert counts["B"]["abandoned"] == 0  # progressive: reserved for the agent


def _finish(host: CampaignHost, agent: AgentId) -> None:
    with contextlib.suppress(Exception):  # the agent moved on (logged out at the end)
        host.finish_wrapup(agent)


def test_an_unreachable_pbx_is_a_clear_error(tmp_path: Path) -> None:
    settings = asyncio.run(seed_store(tmp_path / "down.db", leads=5))
    dead = AmiSettings(host="127.0.0.1", port=1, secret=SECRET, connect_timeout=0.5)
    backend = open_backend(BackendSettings(kind="ami", ami=(dead,), start=START))
    outcome = start_host(settings, ["A"], backend, until=1.0)
    assert outcome.status == 2
    assert outcome.error is not None and "127.0.0.1:1" in outcome.error
    assert SECRET not in outcome.error


def test_backend_ami_needs_a_config_with_servers(tmp_path: Path, capsys: object) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\nport = 0\n", encoding="utf-8")
    argv = ["campaign", "start", "A", "--db", str(tmp_path / "x.db"), "--backend", "ami"]
    assert main(argv) == 2
    assert main([*argv, "--config", str(config)]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "--config" in err and "[ami]" in err
