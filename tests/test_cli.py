"""The ``dialer`` command line: the ``simulate`` contract of shared/SCENARIOS.md, sweeps,
and the demo.

End-to-end tests run ``python -m dialer`` in a subprocess (stdout is a pipe, not a
terminal: no progress bars, no live view) on shortened copies of the shared scenarios.
They use the progressive and ratio pacers, which are fast; only the demo runs the
predictive pacer, for a few simulated minutes.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from dialer.cli import main
from dialer.live_view import LineReporter, Snapshot, progress_line, render_panel, result_table
from simulator.run import run_scenario
from simulator.scenario import load_scenario
from simulator.sweep import (
    Axis,
    SweepSpecError,
    grid,
    markdown_table,
    parse_spec,
    write_outputs,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
SMALL = SCENARIOS / "small-team-5.toml"

# Every key of the SCENARIOS.md result table, with the type its value must have.
INT_KEYS = (
    "seed",
    "dials",
    "answered_human",
    "answered_machine",
    "busy",
    "no_answer",
    "failed",
    "connected",
    "abandoned",
    "lost_in_detection",
    "amd_false_machine",
)
FLOAT_KEYS = (
    "sim_seconds",
    "wall_seconds",
    "abandon_rate",
    "abandon_rate_true",
    "max_hourly_abandon_rate",
    "agent_logged_seconds",
    "agent_talk_seconds",
    "agent_wrapup_seconds",
    "agent_wait_seconds",
    "occupancy",
    "talk_minutes_per_agent_hour",
    "mean_wait_between_calls_s",
    "connect_delay_p95_s",
)
STR_KEYS = ("scenario", "mode", "pacer")
RESULT_KEYS = (*STR_KEYS, *INT_KEYS, *FLOAT_KEYS)


def shortened(
    src: Path, dest: Path, duration: int, *, replace: tuple[str, str] | None = None
) -> Path:
    """A copy of scenario ``src`` with ``duration`` seconds (and one text edit)."""
    text = re.sub(r"(?m)^duration = \d+$", f"duration = {duration}", src.read_text())
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    dest.write_text(text)
    return dest


def dialer(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialer", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def small_1800(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shortened(SMALL, tmp_path_factory.mktemp("sc") / "small-team-5.toml", 1800)


RATIO_ARGS = ("--json", "--mode", "ratio", "--seed", "5")


@pytest.fixture(scope="module")
def ratio_run(small_1800: Path) -> subprocess.CompletedProcess[str]:
    return dialer("simulate", small_1800, *RATIO_ARGS)


# ------------------------------------------------------------------ simulate --json


def test_json_has_every_result_key_with_its_type(
    ratio_run: subprocess.CompletedProcess[str],
) -> None:
    assert ratio_run.returncode == 0, ratio_run.stderr
    # Nothing but one JSON object on stdout: json.loads refuses any text around it.
    assert ratio_run.stdout.lstrip().startswith("{")
    result = json.loads(ratio_run.stdout)
    assert isinstance(result, dict)
    assert set(RESULT_KEYS) <= set(result)
    for key in STR_KEYS:
        assert isinstance(result[key], str), key
    for key in INT_KEYS:
        assert type(result[key]) is int and result[key] >= 0, key
    for key in FLOAT_KEYS:
        assert type(result[key]) is float and math.isfinite(result[key]), key
    assert (result["scenario"], result["mode"], result["pacer"]) == (
        "small-team-5",
        "ratio",
        "ratio",
    )
    assert result["seed"] == 5
    assert result["sim_seconds"] == 1800.0


def test_json_result_obeys_the_definitions(ratio_run: subprocess.CompletedProcess[str]) -> None:
    r = json.loads(ratio_run.stdout)
    approx = pytest.approx
    outcomes = ("answered_human", "answered_machine", "busy", "no_answer", "failed")
    assert r["dials"] > 0
    assert sum(r[k] for k in outcomes) == r["dials"]  # each dial has exactly one fate
    settled = r["connected"] + r["abandoned"]
    assert r["abandon_rate"] == approx(r["abandoned"] / settled if settled else 0.0)
    # abandon_rate_true counts people only: between the ground-truth-only part and the
    # formula with every abandon (machines passed as people included).
    people = r["answered_human"]
    low = (r["amd_false_machine"] + r["lost_in_detection"]) / people
    high = (r["abandoned"] + r["amd_false_machine"] + r["lost_in_detection"]) / people
    assert low - 1e-12 <= r["abandon_rate_true"] <= high + 1e-12
    assert 0.0 <= r["max_hourly_abandon_rate"] <= 1.0
    logged, talk, wrap = (r[f"agent_{k}_seconds"] for k in ("logged", "talk", "wrapup"))
    assert logged == approx(5 * 1800)  # five agents, no schedule, the whole shift
    assert r["occupancy"] == approx((talk + wrap) / logged)
    assert 0.0 < r["occupancy"] <= 1.0
    assert r["talk_minutes_per_agent_hour"] == approx(60 * talk / logged)
    assert 0.0 <= r["agent_wait_seconds"] <= logged - talk - wrap + 1e-6
    assert r["connect_delay_p95_s"] > 0.0
    assert r["mean_wait_between_calls_s"] >= 0.0


def test_same_seed_gives_the_same_json_but_wall_seconds(
    small_1800: Path, ratio_run: subprocess.CompletedProcess[str]
) -> None:
    again = dialer("simulate", small_1800, *RATIO_ARGS)
    assert again.returncode == 0, again.stderr
    first, second = json.loads(ratio_run.stdout), json.loads(again.stdout)
    first.pop("wall_seconds")
    second.pop("wall_seconds")
    assert first == second


def test_human_output_is_a_table_of_every_key(
    small_1800: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(small_1800), "--mode", "progressive"]) == 0
    out = capsys.readouterr().out
    for key in RESULT_KEYS:
        assert key in out
    assert "progressive" in out  # progressive mode, no --pacer: the progressive pacer


# ------------------------------------------------------------------ bad input: exit 2


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("human = 0.22", "human = 1.5"), "traffic.human"),
        (("[amd]", "[campaign]\nabandon_targt = 0.03\n\n[amd]"), "campaign.abandon_targt"),
    ],
)
def test_malformed_scenario_exits_2_naming_file_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str
) -> None:
    bad = shortened(SMALL, tmp_path / "bad.toml", 600, replace=edit)
    proc = dialer("simulate", bad, "--json")
    assert proc.returncode == 2
    assert str(bad) in proc.stderr
    assert key in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("option", [("--pacer", "no-such-pacer"), ("--mode", "no-such-mode")])
def test_unknown_pacer_or_mode_exits_2(small_1800: Path, option: tuple[str, str]) -> None:
    proc = dialer("simulate", small_1800, "--json", *option)
    assert proc.returncode == 2
    assert option[1] in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--abandon-target", "1.5"],
        ["--sweep", "bogus=1:2:1"],
        ["--sweep", "agents=1:5:0.5"],
        ["--sweep", "abandon-target=0.01,2"],  # a grid point out of range: nothing runs
    ],
)
def test_bad_override_or_sweep_exits_2_before_running(
    small_1800: Path, tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["simulate", str(small_1800), "--json", "--out", str(out), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error" in captured.err
    assert not out.exists()


# ------------------------------------------------------------------ sweeps


def test_parse_spec_ranges_include_the_stop() -> None:
    axis = parse_spec("abandon-target=0.01:0.05:0.005")
    assert axis.name == "abandon_target"
    assert axis.values == pytest.approx([0.01 + 0.005 * i for i in range(9)])
    assert axis.values[-1] == 0.05  # rounded: no 0.05000000000000001
    assert parse_spec("agents=10:30:5") == Axis("agents", (10, 15, 20, 25, 30))
    assert parse_spec("agents=5,10,20") == Axis("agents", (5, 10, 20))
    assert parse_spec("seed=1:5:1").values == (1, 2, 3, 4, 5)
    assert parse_spec("connect_deadline=1:2:0.5").values == (1.0, 1.5, 2.0)
    assert parse_spec("no-answer-timeout=20").values == (20.0,)


@pytest.mark.parametrize(
    "spec",
    ["agents", "agents=", "nope=1:2:1", "agents=1:2", "agents=5:1:1", "seed=1:3:0", "agents=a,b"],
)
def test_parse_spec_refuses_bad_specs(spec: str) -> None:
    with pytest.raises(SweepSpecError):
        parse_spec(spec)


def test_grid_is_the_cartesian_product() -> None:
    points = grid([Axis("agents", (3, 5)), Axis("seed", (1, 2))])
    assert points == [
        {"agents": 3, "seed": 1},
        {"agents": 3, "seed": 2},
        {"agents": 5, "seed": 1},
        {"agents": 5, "seed": 2},
    ]
    with pytest.raises(SweepSpecError):
        grid([Axis("seed", (1,)), Axis("seed", (2,))])


def test_tiny_sweep_writes_csv_json_md_png(tmp_path: Path) -> None:
    scenario = shortened(SMALL, tmp_path / "small.toml", 600)
    out = tmp_path / "out"
    proc = dialer(
        "simulate",
        scenario,
        "--mode",
        "ratio",
        "--sweep",
        "agents=3,5",
        "--jobs",
        "2",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    with (out / "sweep.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["agents"] for r in rows] == ["3", "5"]
    assert set(RESULT_KEYS) <= set(rows[0])
    listed = json.loads((out / "sweep.json").read_text())
    assert [r["agents"] for r in listed] == [3, 5]
    assert all(set(RESULT_KEYS) <= set(r) for r in listed)
    # A sweep run is exactly `simulate` with that override: same seed, same result.
    alone = run_scenario(load_scenario(scenario).replace_settings(agents=3), mode="ratio")
    assert {k: v for k, v in listed[0].items() if k not in {"agents", "wall_seconds"}} == {
        k: v for k, v in alone.items() if k != "wall_seconds"
    }
    md = (out / "sweep.md").read_text()
    assert "| agents |" in md and "abandon_rate" in md
    assert len([line for line in md.splitlines() if line.startswith("| ")]) == 3
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| agents |" in proc.stdout  # not a terminal: the markdown table


def test_sweep_json_prints_a_list_and_default_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = shortened(SMALL, tmp_path / "small.toml", 300)
    monkeypatch.chdir(tmp_path)
    argv = ["simulate", str(scenario), "--mode", "progressive", "--json", "--jobs", "1"]
    assert main([*argv, "--sweep", "seed=1:2:1", "--sweep", "connect-deadline=1,2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["seed"], r["connect_deadline"]) for r in rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert sorted(p.name for p in (tmp_path / "sweep-small-team-5").iterdir()) == [
        "sweep.csv",
        "sweep.json",
        "sweep.md",
        "sweep.png",
    ]


def test_write_outputs_plots_a_float_setting(tmp_path: Path) -> None:
    base = {k: 0 for k in INT_KEYS} | {k: 0.0 for k in FLOAT_KEYS}
    rows: list[dict[str, object]] = [
        {"abandon_target": t, **base, "occupancy": 0.8 + t, "abandon_rate": t}
        for t in (0.01, 0.02, 0.03)
    ]
    paths = write_outputs(rows, ["abandon_target"], tmp_path, title="synthetic")
    assert [p.name for p in paths] == ["sweep.csv", "sweep.json", "sweep.md", "sweep.png"]
    assert "| 0.02 |" in markdown_table(rows, ["abandon_target"])
    assert "2.00%" in markdown_table(rows, ["abandon_target"])


# ------------------------------------------------------------------ demo and live view


def test_demo_without_a_terminal_prints_lines_and_the_summary() -> None:
    proc = dialer("demo", "--hours", "0.1", "--speed", "1000", "--agents", "10")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout  # no live view, no colour codes in a pipe
    assert re.search(r"^09:00 \(", proc.stdout, re.MULTILINE)  # a progress line
    for key in ("abandon_rate", "occupancy", "connected", "dials"):
        assert key in proc.stdout
    assert "10 agents" in proc.stdout


def _snapshot() -> Snapshot:
    return Snapshot(
        sim_seconds=3723.0,
        duration=10800.0,
        clock=datetime(2026, 3, 2, 10, 2, 3, tzinfo=UTC),
        agents={"ready": 2, "on call": 15, "wrap-up": 3},
        in_flight=12,
        dials=900,
        live=170,
        connected=165,
        abandoned=5,
        lost=2,
        abandon_rate=5 / 170,
        occupancy=0.874,
        decision_dials=3,
        explain={"p_live": 0.19712, "guard": "none", "dials": 3},
    )


def test_live_panel_and_progress_line_render() -> None:
    buffer = StringIO()
    Console(file=buffer, width=140).print(
        render_panel(_snapshot(), title="demo", abandon_target=0.03)
    )
    text = buffer.getvalue()
    for part in ("10:02", "1:02:03 / 3:00:00", "on call", "2.94%", "87.4%", "p_live", "0.1971"):
        assert part in text
    line = progress_line(_snapshot())
    assert line.startswith("10:02 (1:02:03 / 3:00:00)")
    assert "busy 18" in line


def test_line_reporter_reports_each_quarter_hour_once(small_1800: Path) -> None:
    lines: list[str] = []
    scenario = load_scenario(small_1800)
    reporter = LineReporter(lines.append, start=scenario.start, every=900.0)
    run_scenario(scenario, mode="progressive", on_progress=reporter, progress_every=300.0)
    assert [line[:5] for line in lines] == ["09:00", "09:15", "09:30"]


def test_result_table_shows_ratios_as_percentages() -> None:
    buffer = StringIO()
    table = result_table({"occupancy": 0.8125, "dials": 1234, "agent_talk_seconds": 3725.5})
    Console(file=buffer, width=100).print(table)
    text = buffer.getvalue()
    assert "81.25%" in text and "1,234" in text and "1:02:05" in text
