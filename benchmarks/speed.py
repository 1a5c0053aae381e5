"""Speed benchmark: how fast the simulator runs a large floor for a whole shift.

Runs ``benchmarks/scenarios/large-250.toml`` (250 agents, 8 h, steady traffic), or the
same with ``--agents``/``--hours`` overridden, with one pacer, in a fresh (spawned) worker
process so that its peak memory (``ru_maxrss``) belongs to this run alone, and reports:

- wall seconds of the simulation (``run_scenario``'s own ``wall_seconds``), and of the
  whole worker process (interpreter start-up, imports, scenario load included);
- simulated seconds per wall second, and dials per wall second;
- peak resident memory of the worker, and its resident memory before the run;
- the seconds a fixed pure-Python loop takes just before and just after the run. This
  machine is a VM whose speed drifts by up to half under its neighbours' load (this
  loop took 0.29-0.51 s within one run), so a wall time means little without it.

The target: 250 agents × 8 h in ≤ 30 s wall. Writes ``speed.md`` and ``speed.json`` to
``--out`` and prints the table. ``--profile`` instead runs the same simulation under
cProfile in this process and prints the top functions by own time (tottime); it also
writes ``speed-profile.txt`` and ``speed.prof`` (timings under a profiler are inflated,
so it does not write the speed table).

    python -m benchmarks.speed [--agents 250] [--hours 8] [--pacer predictive] [--out DIR]
                               [--seed N] [--profile] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import pstats
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pacing.registry import PACERS
from simulator.run import MODES, run_scenario
from simulator.scenario import Scenario, load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "large-250.toml"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
TARGET_AGENTS, TARGET_HOURS, TARGET_WALL_SECONDS = 250, 8.0, 30.0

Row = dict[str, Any]


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux: KiB; macOS: bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def build_scenario(path: str, agents: int, hours: float, seed: int | None) -> Scenario:
    """The benchmark scenario with ``agents`` logged in for ``hours`` (float, hours)."""
    return load_scenario(path).replace_settings(agents=agents, duration=hours * 3600.0, seed=seed)


def _number(result: dict[str, object], key: str) -> float:
    value = result[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"result key {key!r} is not a number: {value!r}")
    return float(value)


def _mode(pacer: str) -> str:
    return pacer if pacer in MODES else "predictive"


def reference_loop(n: int = 10_000_000) -> float:
    """Seconds for ``n`` integer additions in a Python loop: the machine's speed now."""
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - t0


def measure(path: str, agents: int, hours: float, pacer: str, seed: int | None) -> Row:
    """Worker: run once and return the figures. Run it in a fresh process (spawn) so
    that ``ru_maxrss`` is this run's peak, not an earlier one's."""
    # Import the pacer before the baseline so that the baseline is "ready to run".
    from pacing.registry import make_pacer  # noqa: PLC0415

    make_pacer(pacer)
    scenario = build_scenario(path, agents, hours, seed)
    baseline = _rss_mb()
    ref_before = reference_loop()
    result = run_scenario(scenario, mode=_mode(pacer), pacer=pacer)
    ref_after = reference_loop()
    peak = _rss_mb()
    wall, sim = _number(result, "wall_seconds"), _number(result, "sim_seconds")
    dials = int(_number(result, "dials"))
    meets = (
        wall <= TARGET_WALL_SECONDS
        if (agents, hours) == (TARGET_AGENTS, TARGET_HOURS) and pacer == "predictive"
        else None
    )
    return {
        "scenario": scenario.name,
        "pacer": pacer,
        "seed": scenario.seed,
        "agents": agents,
        "hours": hours,
        "wall_seconds": wall,
        "sim_seconds": sim,
        "sim_seconds_per_wall_second": sim / wall if wall > 0 else float("inf"),
        "dials": dials,
        "dials_per_wall_second": dials / wall if wall > 0 else float("inf"),
        "peak_rss_mb": round(peak, 1),
        "baseline_rss_mb": round(baseline, 1),
        "reference_loop_seconds": [round(ref_before, 3), round(ref_after, 3)],
        "target_wall_seconds": TARGET_WALL_SECONDS,
        "meets_target": meets,
        "result": result,
    }


def run_measured(path: str, agents: int, hours: float, pacer: str, seed: int | None) -> Row:
    """``measure`` in a freshly spawned process (not forked: a fork inherits our peak)."""
    context = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        row = pool.submit(measure, path, agents, hours, pacer, seed).result()
    row["wall_seconds_process"] = round(time.perf_counter() - t0, 3)
    return row


def table(row: Row) -> str:
    if row["meets_target"] is None:
        verdict = f"n/a (target is predictive, {TARGET_AGENTS} agents × {TARGET_HOURS:g} h)"
    else:
        verdict = "PASS" if row["meets_target"] else "FAIL"
    result = row["result"]
    cells = [
        ("scenario", f"{row['scenario']} (seed {row['seed']})"),
        ("pacer", row["pacer"]),
        ("agents × hours", f"{row['agents']} × {row['hours']:g} h"),
        ("wall seconds (simulation)", f"{row['wall_seconds']:.1f}"),
        ("wall seconds (process, with start-up)", f"{row['wall_seconds_process']:.1f}"),
        ("simulated s per wall s", f"{row['sim_seconds_per_wall_second']:.0f}"),
        ("dials", f"{row['dials']:d}"),
        ("dials per wall s", f"{row['dials_per_wall_second']:.0f}"),
        ("peak RSS (MiB)", f"{row['peak_rss_mb']:.0f}"),
        ("RSS before the run (MiB)", f"{row['baseline_rss_mb']:.0f}"),
        (
            "reference loop s, before / after (machine speed)",
            "{:.2f} / {:.2f}".format(*row["reference_loop_seconds"]),
        ),
        ("occupancy / abandon_rate", f"{result['occupancy']:.3f} / {result['abandon_rate']:.4f}"),
        (f"target ≤ {TARGET_WALL_SECONDS:g} s", verdict),
    ]
    return "\n".join(["| measure | value |", "|---|---:|", *(f"| {k} | {v} |" for k, v in cells)])


def profile(
    path: str,
    *,
    agents: int,
    hours: float,
    pacer: str,
    seed: int | None,
    top: int,
    dump: Path | None = None,
) -> str:
    """Run once under cProfile here; return the top ``top`` functions by tottime.

    ``dump``: where to write the raw stats (for snakeviz / pstats), if anywhere.
    """
    scenario = build_scenario(path, agents, hours, seed)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    result = run_scenario(scenario, mode=_mode(pacer), pacer=pacer)
    profiler.disable()
    elapsed = time.perf_counter() - t0
    buffer = io.StringIO()
    buffer.write(
        f"{scenario.name}, {pacer}, {agents} agents × {hours:g} h: {elapsed:.1f} s wall under"
        f" cProfile, {result['dials']} dials\n"
    )
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    if dump is not None:
        profiler.dump_stats(str(dump))
    return buffer.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--agents", type=int, default=TARGET_AGENTS)
    parser.add_argument("--hours", type=float, default=TARGET_HOURS)
    parser.add_argument("--pacer", default="predictive", choices=PACERS)
    parser.add_argument("--seed", type=int, default=None, help="default: the scenario's")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--profile", action="store_true", help="run under cProfile instead")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    args = parser.parse_args(argv)
    if args.agents < 1:
        parser.error("--agents must be >= 1")
    if not args.hours > 0:
        parser.error("--hours must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    path = str(args.scenario)
    load_scenario(path)  # a bad file fails here, before any worker starts
    if args.profile:
        text = profile(
            path,
            agents=args.agents,
            hours=args.hours,
            pacer=args.pacer,
            seed=args.seed,
            top=args.top,
            dump=out / "speed.prof",
        )
        (out / "speed-profile.txt").write_text(text, encoding="utf-8")
        print(text)
        print(f"wrote {out / 'speed-profile.txt'}, {out / 'speed.prof'}", file=sys.stderr)
        return 0
    row = run_measured(path, args.agents, args.hours, args.pacer, args.seed)
    markdown = f"# Speed benchmark\n\n{table(row)}\n"
    (out / "speed.md").write_text(markdown, encoding="utf-8")
    (out / "speed.json").write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    print(f"wrote {out / 'speed.md'}, {out / 'speed.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
