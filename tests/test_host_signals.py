"""SIGINT on a real ``dialer campaign start`` process: it stops dialling, lets calls in
flight end (bounded), marks the campaigns stopped and exits 0."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from dialer.ops_db import ensure_tables, read_beat
from dialer.store import Store, StoreSettings
from tests.ops_fixtures import seed_store


async def _beats(settings: StoreSettings) -> dict[str, str]:
    store = await Store.open(settings)
    try:
        await ensure_tables(store)
        out = {}
        for name in ("A", "B"):
            beat = await read_beat(store, name)
            if beat is not None:
                out[name] = str(beat["state"])
        return out
    finally:
        await store.close()


async def _statuses(settings: StoreSettings) -> dict[str, str]:
    store = await Store.open(settings)
    try:
        return {c.name: c.status for c in await store.list_campaigns()}
    finally:
        await store.close()


def test_sigint_drains_and_exits_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "sig.db"
    settings = asyncio.run(seed_store(db))
    argv = [
        sys.executable, "-m", "dialer", "campaign", "start", "A", "B", "--db", str(db),
        "--speed", "20", "--for", "36000", "--drain-timeout", "60", "--no-live",
        "--start", "2026-03-02T09:00:00-06:00",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while asyncio.run(_beats(settings)) != {"A": "running", "B": "running"}:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the host never reported running"
            time.sleep(0.3)
        time.sleep(1.0)  # some calls in flight
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # drain <= 60 engine s = 3 s real
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "A: dials" in out and "B: dials" in out
    assert asyncio.run(_statuses(settings)) == {"A": "stopped", "B": "stopped"}
    assert asyncio.run(_beats(settings)) == {"A": "stopped", "B": "stopped"}


def test_status_watch_ends_on_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "watch.db"
    asyncio.run(seed_store(db, leads=2))
    argv = [sys.executable, "-m", "dialer", "campaign", "status", "--watch", "--every", "0.2"]
    proc = subprocess.Popen(
        [*argv, "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "A" in out and "progressive" in out
