"""Shared set-up for the operations tests: a real SQLite store with two campaigns,
their leads and agents, and the simulator backend at a fixed start."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.backends import BackendSettings, SimBackend, open_backend
from dialer.store import Store, StoreSettings
from dialer.store.records import NewLead, NewPhone

MX = ZoneInfo("America/Mexico_City")
# Monday 2 March 2026, 09:00 in Mexico City: a working day inside the MX calling window.
START = datetime(2026, 3, 2, 9, 0, tzinfo=MX)
# Agents: A only, B only, and both.
AGENTS = {
    "a1": ["A"],
    "a2": ["A"],
    "a3": ["A"],
    "b1": ["B"],
    "b2": ["B"],
    "s1": ["A", "B"],
    "s2": ["A", "B"],
}


def demo_scenario() -> Path:
    ref = resources.files("simulator") / "scenarios" / "demo.toml"
    with resources.as_file(ref) as path:
        return Path(path)


def sim_backend(*, speed: float = 0.0, seed: int = 7) -> SimBackend:
    backend = open_backend(
        BackendSettings(kind="sim", scenario=demo_scenario(), speed=speed, seed=seed, start=START)
    )
    assert isinstance(backend, SimBackend)
    return backend


async def seed_store(db: Path, *, leads: int = 400) -> StoreSettings:
    settings = StoreSettings(url=str(db))
    store = await Store.open(settings)
    try:
        before = START - timedelta(hours=1)
        await store.create_campaign("A", mode="predictive", default_region="MX", at=before)
        await store.create_campaign("B", mode="progressive", default_region="MX", at=before)
        for k, name in enumerate(("A", "B")):
            await store.add_leads(
                name,
                [
                    NewLead(
                        external_id=f"{name}-{i}",
                        debt_amount=Decimal("2500.00"),
                        currency="MXN",
                        phones=(NewPhone(f"+52155{k}{i:07d}", "America/Mexico_City", "MX"),),
                    )
                    for i in range(leads)
                ],
                at=before,
            )
        for code, campaigns in AGENTS.items():
            await store.create_agent(code, name=code.upper(), campaigns=campaigns)
    finally:
        await store.close()
    return settings
