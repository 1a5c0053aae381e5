"""Pacing benchmark: every scenario against every pacer, side by side.

Runs each scenario file (default ``../shared/scenarios/*.toml``) with each pacer of
``pacing.registry.PACERS`` (or ``--pacers``), for the scenario's own seed or for each of
``--seeds`` (which replace it), one simulation per worker process, and writes to ``--out``:

- ``pacing.md``: one row per run, then a target check for the ``predictive`` pacer
  (abandon_rate <= 3 %, worst hour <= 6 %, occupancy >= the scenario's target);
- ``pacing.json``: a list with every result key of every run (SCENARIOS.md);
- ``pacing.png``: occupancy against abandon rate, one point per scenario and pacer (the
  mean over seeds), on a symlog x axis so the 0-5 % region stays readable next to
  VICIdial-style runs that abandon half their calls.

The markdown tables are also printed on stdout; progress goes to stderr.

    python -m benchmarks.pacing [--scenarios DIR] [--pacers a,b] [--seeds 7,8,9]
                                [--jobs N] [--out DIR] [--duration S] [--config FILE]

``--config`` applies a configuration file (config.example.toml) to every run exactly as
``dialer simulate --config`` does: ``[campaign]`` values and ``[pacing.<pacer>]``
tunables. QA's tuning experiments: ``[pacing.predictive]`` with ``guards = false``,
``gain = 0.0`` and an ``initial_price`` holds the abandon price fixed, which traces the
occupancy/abandon frontier of the decision rule alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.config import load_config
from dialer.errors import ConfigError
from pacing.base import Pacer
from pacing.registry import PACERS, make_pacer
from simulator.configured import apply_config, engine_settings, pacer_factory
from simulator.run import MODES, run_scenario
from simulator.scenario import Scenario, load_scenario

DEFAULT_SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"

# Targets for the product's pacer. Abandons: 47 CFR 64.1200(a)(7) caps abandoned calls
# at 3 % of live answers per campaign over 30 days; we hold every run to it and allow a
# single hour twice that. Occupancy: (talk + wrapup) / logged, ratio in 0..1.
ABANDON_TARGET = 0.030
MAX_HOURLY_ABANDON_TARGET = 0.06
OCCUPANCY_TARGETS: dict[str, float] = {
    "steady-20": 0.88,
    "small-team-5": 0.82,
    "large-100-low-contact": 0.945,
    "lunch-and-breaks": 0.90,
    "reminders-warm-10": 0.84,
}
CHECKED_PACER = "predictive"

# Wall seconds per simulated hour, as (fixed, per logged-in agent), for ordering jobs
# longest-first. Measured on the shared scenarios cut to one hour: the predictive model
# costs about the same per decision whatever the team size, the baselines almost nothing.
_PACER_COST: dict[str, tuple[float, float]] = {
    "progressive": (0.9, 0.025),
    "ratio": (0.9, 0.025),
    "vicidial-adaptive": (1.2, 0.03),
    "predictive": (22.0, 0.55),
}

# (result key, format) of the main table, after scenario, pacer and seed.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("occupancy", "{:.3f}"),
    ("abandon_rate", "{:.4f}"),
    ("max_hourly_abandon_rate", "{:.4f}"),
    ("abandon_rate_true", "{:.4f}"),
    ("abandoned", "{:d}"),
    ("model_expected_abandons", "{:.1f}"),
    ("talk_minutes_per_agent_hour", "{:.1f}"),
    ("mean_wait_between_calls_s", "{:.1f}"),
    ("dials", "{:d}"),
    ("wall_seconds", "{:.1f}"),
)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    """One simulation to run: a scenario file, a pacer name, a seed (None: the file's)."""

    path: Path
    pacer: str
    seed: int | None
    cost: float


def run_one(
    scenario_path: str,
    pacer: str,
    seed: int | None,
    duration: float | None = None,
    config_path: str | None = None,
) -> Row:
    """Worker: run one scenario with one pacer and return the SCENARIOS.md result.

    ``seed`` None keeps the file's seed; ``duration`` (seconds) caps the shift length;
    ``config_path``: a configuration file applied as ``dialer simulate --config`` does.
    Top-level so that ``ProcessPoolExecutor`` can pickle it.
    """
    config = None if config_path is None else load_config(config_path)
    scenario = _prepare(apply_config(load_scenario(scenario_path), config), seed, duration)
    mode = pacer if pacer in MODES else "predictive"
    factory = pacer_factory(config, pacer)
    built: list[Pacer] = []

    def keep(sc: Scenario) -> Pacer:
        cp = sc.campaign
        built.append(
            factory(sc)
            if factory is not None
            else make_pacer(
                pacer, abandon_target=cp.abandon_target, connect_deadline=cp.connect_deadline
            )
        )
        return built[-1]

    row = run_scenario(
        scenario, mode=mode, pacer=pacer, pacer_factory=keep, settings=engine_settings(config)
    )
    # The predictive model's own expected abandons for the dials it placed, next to the
    # ``abandoned`` that happened: its calibration (docs/speed.md).
    expected = getattr(built[0], "expected_abandons", None)
    if isinstance(expected, float):
        row["model_expected_abandons"] = expected
    if config_path is not None:
        row["config"] = config_path
    return row


def _prepare(scenario: Scenario, seed: int | None, duration: float | None) -> Scenario:
    capped = None if duration is None else min(duration, scenario.duration)
    return scenario.replace_settings(seed=seed, duration=capped)


def _estimate_cost(scenario: Scenario, pacer: str, duration: float | None) -> float:
    """Expected wall seconds of one run (only the order matters)."""
    length = scenario.duration if duration is None else min(duration, scenario.duration)
    agents = max([scenario.agents.count, *(n for _, n in scenario.agents.schedule)])
    fixed, per_agent = _PACER_COST.get(pacer, _PACER_COST["predictive"])
    return (fixed + per_agent * agents) * length / 3600.0


def plan_jobs(
    paths: Sequence[Path],
    pacers: Sequence[str],
    seeds: Sequence[int] | None,
    duration: float | None,
) -> list[Job]:
    """Every (scenario, pacer, seed), longest expected run first."""
    jobs: list[Job] = []
    for path in paths:
        scenario = load_scenario(path)  # validates every file before anything runs
        for pacer in pacers:
            cost = _estimate_cost(scenario, pacer, duration)
            chosen: Sequence[int | None] = list(seeds) if seeds else [None]
            jobs.extend(Job(path, pacer, s, cost) for s in chosen)
    jobs.sort(key=lambda j: -j.cost)
    return jobs


def run_jobs(
    jobs: Sequence[Job], *, workers: int, duration: float | None, config_path: str | None = None
) -> list[Row]:
    """Run ``jobs`` in ``workers`` processes; a failed run becomes a row with ``error``."""
    rows: list[Row] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future[Row], Job] = {
            pool.submit(run_one, str(job.path), job.pacer, job.seed, duration, config_path): job
            for job in jobs
        }
        for done, future in enumerate(as_completed(futures), start=1):
            job = futures[future]
            try:
                row = future.result()
                status = f"{row['wall_seconds']:.1f} s"
            except Exception as exc:  # one broken pacer must not hide the rest
                row = {
                    "scenario": job.path.stem,
                    "pacer": job.pacer,
                    "seed": job.seed,
                    "error": "".join(traceback.format_exception_only(exc)).strip(),
                }
                status = f"FAILED: {row['error']}"
            rows.append(row)
            elapsed = time.perf_counter() - t0
            print(
                f"[{done}/{len(jobs)} {elapsed:6.0f} s] {row['scenario']} {job.pacer}"
                f" seed={row['seed']}: {status}",
                file=sys.stderr,
                flush=True,
            )
    pacer_order = {name: i for i, name in enumerate(PACERS)}
    rows.sort(key=lambda r: (r["scenario"], pacer_order.get(r["pacer"], 99), r["seed"] or 0))
    return rows


def _cell(row: Row, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return fmt.format(value)


def results_table(rows: Sequence[Row]) -> str:
    head = ["scenario", "pacer", "seed", *(key for key, _ in _COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(_COLUMNS)]
    for row in rows:
        if "error" in row:
            cells = [str(row["scenario"]), str(row["pacer"]), str(row["seed"])]
            cells += [f"ERROR: {row['error']}"] + [""] * (len(_COLUMNS) - 1)
        else:
            cells = [str(row["scenario"]), str(row["pacer"]), str(row["seed"])]
            cells += [_cell(row, key, fmt) for key, fmt in _COLUMNS]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def target_table(rows: Sequence[Row]) -> str:
    """PASS/FAIL of each ``predictive`` run against the abandon and occupancy targets."""
    head = (
        "| scenario | seed | abandon_rate ≤ 0.030 | max_hourly ≤ 0.06 "
        "| occupancy ≥ target | overall |\n|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        if row["pacer"] != CHECKED_PACER:
            continue
        name, seed = str(row["scenario"]), str(row["seed"])
        if "error" in row:
            lines.append(f"| {name} | {seed} | — | — | — | FAIL (error) |")
            continue
        abandon, hourly, occ = (
            float(row["abandon_rate"]),
            float(row["max_hourly_abandon_rate"]),
            float(row["occupancy"]),
        )
        checks = [abandon <= ABANDON_TARGET, hourly <= MAX_HOURLY_ABANDON_TARGET]
        target = OCCUPANCY_TARGETS.get(name)
        if target is None:
            occ_cell = f"{occ:.3f} (no target)"
        else:
            checks.append(occ >= target)
            occ_cell = f"{occ:.3f} vs {target:.3f} {_verdict(occ >= target)}"
        lines.append(
            f"| {name} | {seed} | {abandon:.4f} {_verdict(checks[0])}"
            f" | {hourly:.4f} {_verdict(checks[1])} | {occ_cell} | {_verdict(all(checks))} |"
        )
    if len(lines) == 1:
        lines.append(f"| (no {CHECKED_PACER} runs) | | | | | |")
    return "\n".join(lines)


def plot(rows: Sequence[Row], path: Path) -> None:
    """Occupancy (y) against abandon rate (x, symlog), mean over seeds per scenario/pacer."""
    import matplotlib  # noqa: PLC0415 - only the parent process needs it, and only here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if "error" not in row:
            groups.setdefault((str(row["scenario"]), str(row["pacer"])), []).append(row)
    scenarios = sorted({s for s, _ in groups})
    pacers = [p for p in PACERS if any(p == q for _, q in groups)]
    pacers += sorted({q for _, q in groups} - set(pacers))
    cmap = plt.get_cmap("tab10")
    colour = {s: cmap(i % 10) for i, s in enumerate(scenarios)}
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    marker = {p: markers[i % len(markers)] for i, p in enumerate(pacers)}

    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=120)
    for (scenario, pacer), runs in sorted(groups.items()):
        x = sum(float(r["abandon_rate"]) for r in runs) / len(runs)
        y = sum(float(r["occupancy"]) for r in runs) / len(runs)
        ax.scatter([x], [y], color=colour[scenario], marker=marker[pacer], s=70, edgecolors="black")
    ax.axvline(ABANDON_TARGET, color="grey", linestyle="--", linewidth=1)
    ax.text(ABANDON_TARGET, 0.98, " 3 % target", transform=ax.get_xaxis_transform(), color="grey")
    # Linear up to 5 %, logarithmic beyond: the region that matters keeps its resolution.
    ax.set_xscale("symlog", linthresh=0.05, linscale=2.0)
    max_x = max((float(r["abandon_rate"]) for rs in groups.values() for r in rs), default=0.05)
    ax.set_xlim(-0.002, max(1.0, max_x * 1.1))
    ticks = [t for t in (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2, 0.5, 1.0) if t <= 1.0]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0%}"))
    ax.set_xlabel("abandon_rate (abandoned / live calls; symlog, linear below 5 %)")
    ax.set_ylabel("occupancy ((talk + wrap-up) / logged)")
    ax.set_title("Pacers by scenario: occupancy against abandon rate")
    ax.grid(True, alpha=0.3)
    scenario_handles = [
        Line2D([], [], color=colour[s], marker="o", linestyle="", markersize=8, label=s)
        for s in scenarios
    ]
    pacer_handles = [
        Line2D([], [], color="black", marker=marker[p], linestyle="", markersize=8, label=p)
        for p in pacers
    ]
    # Legends outside the axes, so that they never hide a point.
    first = ax.legend(
        handles=scenario_handles, title="scenario", loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    ax.add_artist(first)
    second = ax.legend(
        handles=pacer_handles, title="pacer", loc="lower left", bbox_to_anchor=(1.01, 0.0)
    )
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight", bbox_extra_artists=[first, second])
    plt.close(fig)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pacing", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--scenarios", type=Path, default=DEFAULT_SCENARIOS, help="directory of *.toml files"
    )
    parser.add_argument(
        "--pacers", type=_csv, default=list(PACERS), help=f"comma list (default {','.join(PACERS)})"
    )
    parser.add_argument(
        "--seeds",
        type=lambda s: [int(x) for x in _csv(s)],
        default=None,
        help="comma list of seeds, replacing each scenario's own",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--duration", type=float, default=None, help="cap each scenario's duration (seconds)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file applied to every run, as dialer simulate --config",
    )
    args = parser.parse_args(argv)
    if args.config is not None:
        try:
            args.changed = load_config(args.config).changed_tunables(CHECKED_PACER)
        except ConfigError as exc:
            parser.error(str(exc))
    unknown = [p for p in args.pacers if p not in PACERS]
    if unknown:
        parser.error(f"unknown pacer(s) {', '.join(unknown)}; expected some of {', '.join(PACERS)}")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.duration is not None and not args.duration > 0:
        parser.error("--duration must be > 0 seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    paths = sorted(Path(args.scenarios).glob("*.toml"))
    if not paths:
        print(f"no *.toml scenarios in {args.scenarios}", file=sys.stderr)
        return 2
    jobs = plan_jobs(paths, args.pacers, args.seeds, args.duration)
    print(
        f"{len(jobs)} runs ({len(paths)} scenarios × {len(args.pacers)} pacers"
        f" × {len(args.seeds or [None])} seeds) on {args.jobs} processes",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    config_path = None if args.config is None else str(args.config)
    rows = run_jobs(jobs, workers=args.jobs, duration=args.duration, config_path=config_path)
    total = time.perf_counter() - t0

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    note = f"{len(rows)} runs, {total:.0f} s wall on {args.jobs} processes"
    if args.duration is not None:
        note += f"; durations capped at {args.duration:g} s"
    if args.config is not None:
        shown = ", ".join(f"{k} = {json.dumps(v)}" for k, v in args.changed.items())
        shown = shown or "defaults"
        note += f"; config {args.config} ({CHECKED_PACER}: {shown})"
    markdown = (
        f"# Pacing benchmark\n\n{note}.\n\n## Runs\n\n{results_table(rows)}\n\n"
        f"## Targets ({CHECKED_PACER})\n\n{target_table(rows)}\n"
    )
    (out / "pacing.md").write_text(markdown, encoding="utf-8")
    (out / "pacing.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    plot(rows, out / "pacing.png")
    print(markdown)
    print(
        f"wrote {out / 'pacing.md'}, {out / 'pacing.json'}, {out / 'pacing.png'}", file=sys.stderr
    )
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
