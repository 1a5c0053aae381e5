"""``dialer campaign|report|agents`` from the command line: exit statuses, errors on
stderr, and one end-to-end run (create, import, agents, start on the simulator, report)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from dialer.cli import main
from simulator.demo_leads import write_demo_leads


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def test_create_validates_before_writing(capsys: pytest.CaptureFixture[str], db: str) -> None:
    status, _, err = run(
        capsys,
        "campaign",
        "create",
        "c",
        "--mode",
        "predictive",
        "--abandon-target",
        "1.5",
        "--db",
        db,
    )
    assert status == 2
    assert "abandon_target" in err
    status, out, _ = run(capsys, "campaign", "create", "c", "--mode", "ratio", "--db", db)
    assert status == 0 and "created campaign c" in out
    status, _, err = run(capsys, "campaign", "create", "c", "--mode", "ratio", "--db", db)
    assert status == 2 and "c" in err
    status, _, err = run(capsys, "campaign", "create", "d", "--mode", "sideways", "--db", db)
    assert status == 2  # argparse refuses the mode


@pytest.mark.parametrize(
    "argv",
    [
        ("campaign", "stop", "nope"),
        ("campaign", "pause", "nope"),
        ("campaign", "resume", "nope"),
        ("campaign", "status", "nope"),
        ("report", "nope"),
        ("agents", "list", "--campaign", "nope"),
        ("campaign", "start", "nope", "--for", "10", "--speed", "0", "--no-live"),
    ],
)
def test_unknown_campaign_is_exit_2(
    capsys: pytest.CaptureFixture[str], db: str, argv: tuple[str, ...]
) -> None:
    status, _, err = run(capsys, *argv, "--db", db)
    assert status == 2
    assert "nope" in err


def test_report_options(capsys: pytest.CaptureFixture[str], db: str) -> None:
    run(capsys, "campaign", "create", "c", "--mode", "progressive", "--db", db)
    status, _, err = run(capsys, "report", "c", "--format", "xml", "--db", db)
    assert status == 2 and "xml" in err
    status, _, err = run(capsys, "report", "c", "--from", "yesterday", "--db", db)
    assert status == 2 and "--from" in err
    status, _, err = run(
        capsys, "report", "c", "--from", "2026-03-02", "--to", "2026-03-01", "--db", db
    )
    assert status == 2 and "end" in err
    status, out, _ = run(capsys, "report", "c", "--format", "json", "--db", db)
    assert status == 0
    assert json.loads(out)["dials"] == 0


def test_agents_add_shows_the_token_once(capsys: pytest.CaptureFixture[str], db: str) -> None:
    run(capsys, "campaign", "create", "c", "--mode", "progressive", "--db", db)
    status, _, err = run(capsys, "agents", "add", "x1", "--campaign", "nope", "--db", db)
    assert status == 2 and "nope" in err
    status, out, _ = run(capsys, "agents", "add", "a1", "--campaign", "c", "--db", db)
    assert status == 0
    token = out.strip().rsplit(" ", 1)[-1]
    assert len(token) >= 32
    status, out, _ = run(capsys, "agents", "list", "--db", db)
    assert status == 0
    assert "a1" in out and "x1" not in out and token not in out
    status, _, err = run(capsys, "agents", "add", "a1", "--campaign", "c", "--db", db)
    assert status == 2  # exists already
    status, _, err = run(capsys, "agents", "add", "a2", "a3", "--name", "N", "--db", db)
    assert status == 2 and "--name" in err


def test_stopped_campaign_is_not_resumed(capsys: pytest.CaptureFixture[str], db: str) -> None:
    run(capsys, "campaign", "create", "c", "--mode", "progressive", "--db", db)
    assert run(capsys, "campaign", "stop", "c", "--db", db)[0] == 0
    status, _, err = run(capsys, "campaign", "resume", "c", "--db", db)
    assert status == 2 and "start" in err


def test_end_to_end(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    pytest.importorskip("dialer.cli_leads", reason="`dialer leads import` comes with the store")
    for name, mode, block in (("early", "predictive", 0), ("late", "progressive", 1)):
        assert (
            run(capsys, "campaign", "create", name, "--mode", mode, "--region", "MX", "--db", db)[0]
            == 0
        )
        leads = tmp_path / f"{name}.csv"
        write_demo_leads(leads, 300, seed=block, block=block)
        status, out, err = run(
            capsys, "leads", "import", str(leads), "--campaign", name, "--db", db
        )
        assert status == 0, err
    assert run(capsys, "agents", "add", "e1", "e2", "e3", "--campaign", "early", "--db", db)[0] == 0
    assert run(capsys, "agents", "add", "l1", "l2", "--campaign", "late", "--db", db)[0] == 0
    status, _, _ = run(
        capsys, "agents", "add", "s1", "s2", "--campaign", "early", "--campaign", "late", "--db", db
    )
    assert status == 0
    status, out, err = run(
        capsys,
        "campaign",
        "start",
        "early",
        "late",
        "--for",
        "600",
        "--speed",
        "0",
        "--no-live",
        "--db",
        db,
    )
    assert status == 0, err
    assert "early: dials" in out and "late: dials" in out
    status, out, err = run(capsys, "report", "early", "--format", "json", "--db", db)
    assert status == 0, err
    report = json.loads(out)
    assert report["campaign"] == "early"
    assert report["dials"] > 10
    assert report["live_answers"] >= report["connected"] > 0
    assert 0 <= report["abandon_rate"] <= 1
    assert report["handled_calls"] > 0 and 0 < report["occupancy"] <= 1
    assert report["contacts"] + report["dispositions"].get("custom", 0) > 0
    status, out, _ = run(capsys, "report", "late", "--format", "csv", "--db", db)
    assert status == 0
    rows = dict(csv.reader(io.StringIO(out)))
    assert rows["kpi"] == "value" and int(rows["dials"]) > 0
    status, out, _ = run(capsys, "campaign", "status", "--json", "--db", db)
    assert status == 0
    statuses = {c["name"]: c["status"] for c in json.loads(out)}
    assert statuses == {"early": "stopped", "late": "stopped"}


def test_a_campaign_another_process_runs_is_not_started(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    import asyncio  # noqa: PLC0415

    from dialer.store import Store, StoreSettings  # noqa: PLC0415

    run(capsys, "campaign", "create", "c", "--mode", "progressive", "--db", db)

    async def hold() -> None:
        store = await Store.open(StoreSettings(url=db))
        try:
            assert await store.acquire_lease("c", "other-host:1", ttl=600.0)
        finally:
            await store.close()

    asyncio.run(hold())
    status, _, err = run(
        capsys, "campaign", "start", "c", "--for", "10", "--speed", "0", "--no-live", "--db", db
    )
    assert status == 2
    assert "another dialer process" in err
    status, out, _ = run(capsys, "campaign", "status", "c", "--json", "--db", db)
    assert json.loads(out)[0]["status"] == "created"  # nothing was started
