"""Parameter sweeps: one scenario run over a grid of settings, in parallel processes.

QA tunes pacing by sweeping a setting (``abandon-target=0.01:0.05:0.005``) and reading
occupancy against abandon rate. A spec names one setting of
``Scenario.replace_settings`` and its values, either ``start:stop:step`` (stop included
within float tolerance) or a comma list; several specs make a cartesian grid.

Invariants: every grid point is validated (``ConfigError``) before anything runs; rows
come back in grid order whatever order the processes finish in; each run is exactly
``dialer simulate`` with the same overrides (same seed, same result). The process
worker ``run_point`` is a top-level function taking the scenario *path*, so it pickles.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import multiprocessing
import re
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from dialer.config import DialerConfig, load_config
from dialer.errors import DialerError
from pacing.registry import PACERS
from simulator.configured import apply_config, engine_settings, pacer_factory
from simulator.run import resolve_pacer, run_scenario
from simulator.scenario import Scenario, load_scenario

Value = int | float
Row = dict[str, object]

# Spec name (as typed on the command line) -> replace_settings keyword, value type.
PARAMETERS: dict[str, tuple[str, type[int] | type[float]]] = {
    "abandon-target": ("abandon_target", float),
    "agents": ("agents", int),
    "connect-deadline": ("connect_deadline", float),
    "no-answer-timeout": ("no_answer_timeout", float),
    "seed": ("seed", int),
}
# A range longer than this is surely a typo (a step of 0.0001 for 0.001); refuse it.
MAX_VALUES = 1000
# The TCPA safe harbour (47 CFR 64.1200(a)(7)): at most 3% of live answers abandoned.
ABANDON_CEILING = 0.03
# Columns of the markdown / terminal table; sweep.csv and sweep.json hold every key.
SUMMARY_KEYS = (
    "dials",
    "connected",
    "abandoned",
    "abandon_rate",
    "abandon_rate_true",
    "max_hourly_abandon_rate",
    "occupancy",
    "talk_minutes_per_agent_hour",
    "mean_wait_between_calls_s",
    "connect_delay_p95_s",
)
PARAMETER_KEYWORDS = frozenset(keyword for keyword, _ in PARAMETERS.values())
INTEGER_KEYWORDS = frozenset(keyword for keyword, kind in PARAMETERS.values() if kind is int)
_RATIO_KEYS = frozenset(
    {"abandon_rate", "abandon_rate_true", "max_hourly_abandon_rate", "occupancy"}
)
# (stop - start) / step is off by an ulp or so for decimal steps like 0.005.
_TOLERANCE = 1e-9
# Range values are rounded to this many decimals, so 0.01 + 3 * 0.005 prints as 0.025.
_DECIMALS = 10


class SweepSpecError(DialerError):
    """A ``--sweep`` spec cannot be read; the message says which and what was expected."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One swept setting: ``name`` is the ``replace_settings`` keyword (``abandon_target``)."""

    name: str
    values: tuple[Value, ...]


def parse_spec(spec: str) -> Axis:
    """``"agents=10:30:5"`` -> ``Axis("agents", (10, 15, 20, 25, 30))``; also ``a=1,2,3``."""
    name, sep, text = spec.partition("=")
    key = name.strip().lower().replace("_", "-")
    if not sep or not text.strip():
        raise SweepSpecError(f"sweep {spec!r}: expected NAME=START:STOP:STEP or NAME=V1,V2,...")
    if key not in PARAMETERS:
        raise SweepSpecError(
            f"sweep {spec!r}: unknown setting {name.strip()!r}; expected one of "
            + ", ".join(PARAMETERS)
        )
    keyword, kind = PARAMETERS[key]
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise SweepSpecError(f"sweep {spec!r}: a range is START:STOP:STEP")
        start, stop, step = (_number(spec, p, kind) for p in parts)
        values = _range(spec, start, stop, step, kind)
    else:
        values = tuple(_number(spec, p, kind) for p in text.split(","))
    return Axis(keyword, values)


def _number(spec: str, text: str, kind: type[int] | type[float]) -> Value:
    try:
        value = kind(text.strip())
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SweepSpecError(f"sweep {spec!r}: expected {what}, got {text.strip()!r}") from None
    if not math.isfinite(value):
        raise SweepSpecError(f"sweep {spec!r}: expected a finite number, got {text.strip()!r}")
    return value


def _range(
    spec: str, start: Value, stop: Value, step: Value, kind: type[int] | type[float]
) -> tuple[Value, ...]:
    if step <= 0:
        raise SweepSpecError(f"sweep {spec!r}: the step must be > 0, got {step}")
    if stop < start:
        raise SweepSpecError(f"sweep {spec!r}: stop {stop} is below start {start}")
    count = math.floor((stop - start) / step + _TOLERANCE) + 1
    if count > MAX_VALUES:
        raise SweepSpecError(f"sweep {spec!r}: {count} values, more than {MAX_VALUES}")
    if kind is int:
        return tuple(int(start + i * step) for i in range(count))
    # start + i*step, not repeated addition: the error does not accumulate.
    return tuple(round(start + i * step, _DECIMALS) for i in range(count))


def grid(axes: Sequence[Axis]) -> list[dict[str, Value]]:
    """Every combination of the axes' values, the last axis varying fastest."""
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise SweepSpecError("each setting may be swept only once")
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def _apply(scenario: Scenario, overrides: Mapping[str, Value]) -> Scenario:
    def pick(name: str) -> Value | None:
        return overrides.get(name)

    agents, seed = pick("agents"), pick("seed")
    return scenario.replace_settings(
        agents=None if agents is None else int(agents),
        seed=None if seed is None else int(seed),
        abandon_target=pick("abandon_target"),
        connect_deadline=pick("connect_deadline"),
        no_answer_timeout=pick("no_answer_timeout"),
        duration=pick("duration"),
    )


def _ignore_sigint() -> None:
    # Workers leave Ctrl-C to the parent, which stops them (a worker that caught it
    # would report it as that run's result and go on with the next queued run).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(pool: ProcessPoolExecutor) -> None:
    # Python 3.14 has terminate_workers(); before it, the worker processes are private
    # (and shutdown() forgets them, so take them first).
    processes = list((pool._processes or {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def run_point(
    path: str,
    overrides: Mapping[str, Value],
    mode: str,
    pacer: str | None,
    config_path: str | None = None,
) -> dict[str, object]:
    """One run of the grid (a process worker): load ``path`` and the config file at
    ``config_path`` (already validated by the parent), apply both and ``overrides``,
    simulate."""
    config = None if config_path is None else load_config(config_path)
    return _run_one(load_scenario(path), overrides, mode, pacer, config)


def _run_one(
    scenario: Scenario,
    overrides: Mapping[str, Value],
    mode: str,
    pacer: str | None,
    config: DialerConfig | None,
) -> dict[str, object]:
    name = resolve_pacer(mode, pacer)
    return run_scenario(
        _apply(apply_config(scenario, config), overrides),
        mode=mode,
        pacer=pacer,
        pacer_factory=pacer_factory(config, name),
        settings=engine_settings(config),
    )


def default_out_dir(scenario_name: str) -> Path:
    """``./sweep-<name>/``, the name reduced to characters safe in a directory name."""
    return Path("sweep-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_name).strip("-.") or "run"))


def run_sweep(
    path: str | Path,
    axes: Sequence[Axis],
    *,
    mode: str = "predictive",
    pacer: str | None = None,
    base: Mapping[str, Value] | None = None,
    jobs: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    config_path: str | Path | None = None,
) -> list[Row]:
    """Run the grid of ``axes`` on the scenario at ``path``; one row per run, grid order.

    ``base`` holds overrides applied to every run (the sweep's values win over them).
    ``jobs`` > 1 runs in that many processes. ``on_done(done, total)`` after each run.
    ``config_path``: a configuration file (``config.example.toml``) applied to every run
    under the sweep's values: campaign settings and pacer tunables.
    Raises ``ConfigError`` (file or an override invalid) before running anything.
    """
    resolve_pacer(mode, pacer)  # ValueError on an unknown mode, before any process starts
    if pacer is not None and pacer not in PACERS:
        raise ValueError(f"unknown pacer {pacer!r}; expected one of {', '.join(PACERS)}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    scenario = load_scenario(path)
    config = None if config_path is None else load_config(config_path)
    points = [{**(base or {}), **point} for point in grid(axes)]
    factory = pacer_factory(config, resolve_pacer(mode, pacer))
    for point in points:
        # Validate every point, pacer included: nothing runs on a bad value.
        final = _apply(apply_config(scenario, config), point)
        if factory is not None:
            factory(final)
    swept = [a.name for a in axes]
    results: list[dict[str, object] | None] = [None] * len(points)
    total = len(points)
    if jobs == 1 or total == 1:
        for i, point in enumerate(points):
            results[i] = _run_one(scenario, point, mode, pacer, config)
            if on_done is not None:
                on_done(i + 1, total)
    else:
        # spawn, not fork: the parent may run a progress-bar thread, and forking a
        # threaded process can copy a held lock into the child.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            max_workers=min(jobs, total), mp_context=context, initializer=_ignore_sigint
        )
        try:
            futures: dict[Future[dict[str, object]], int] = {
                pool.submit(
                    run_point,
                    str(path),
                    point,
                    mode,
                    pacer,
                    None if config_path is None else str(config_path),
                ): i
                for i, point in enumerate(points)
            }
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if on_done is not None:
                    on_done(done, total)
        except BaseException:
            # Ctrl-C or a failed run: stop now rather than finish the runs already queued.
            _terminate(pool)
            raise
        pool.shutdown()
    rows: list[Row] = []
    for point, result in zip(points, results, strict=True):
        assert result is not None
        rows.append({**{name: point[name] for name in swept}, **result})
    return rows


# ---------------------------------------------------------------------------- outputs


def format_cell(key: str, value: object) -> str:
    """A value for a human table: settings as typed, ratios in %, other floats to 2 places."""
    if isinstance(value, float):
        if key in PARAMETER_KEYWORDS:
            return f"{value:g}"
        if key in _RATIO_KEYS:
            return f"{value:.2%}"
        return f"{value:.2f}"
    return str(value)


def table_columns(swept: Sequence[str]) -> list[str]:
    """The swept settings, then the summary keys."""
    return [*swept, *(k for k in SUMMARY_KEYS if k not in swept)]


def markdown_table(rows: Sequence[Row], swept: Sequence[str]) -> str:
    columns = table_columns(swept)
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(format_cell(c, r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_outputs(
    rows: Sequence[Row], swept: Sequence[str], out_dir: str | Path, *, title: str = ""
) -> list[Path]:
    """Write ``sweep.csv``, ``sweep.json``, ``sweep.md`` and ``sweep.png`` into ``out_dir``.

    Returns the paths written. ``swept`` names the swept settings (the rows' first keys).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    paths = [out / "sweep.csv", out / "sweep.json", out / "sweep.md", out / "sweep.png"]
    with paths[0].open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    paths[1].write_text(json.dumps(list(rows), indent=2) + "\n", encoding="utf-8")
    heading = f"# Sweep: {title}\n\n" if title else ""
    note = "\nEvery result key of every run is in `sweep.csv` and `sweep.json`.\n"
    paths[2].write_text(heading + markdown_table(rows, swept) + note, encoding="utf-8")
    plot(rows, swept, paths[3], title=title)
    return paths


def _x_axis(swept: Sequence[str]) -> str:
    # Seeds are replicates, not a setting: plot against a real setting when there is one.
    real = [s for s in swept if s != "seed"]
    return real[0] if real else swept[0]


def _float(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


def _series(rows: Iterable[Row], x: str, others: Sequence[str]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        label = ", ".join(f"{o}={row[o]}" for o in others)
        groups.setdefault(label, []).append(row)
    for group in groups.values():
        group.sort(key=lambda r: _float(r[x]))
    return groups


def plot(rows: Sequence[Row], swept: Sequence[str], path: Path, *, title: str = "") -> None:
    """Occupancy (top) and abandon rates (bottom) against the swept setting, 3% dashed."""
    # The object API with an explicit Agg canvas: no pyplot global state, no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: PLC0415

    x = _x_axis(swept)
    others = [s for s in swept if s != x]
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for label, group in _series(rows, x, others).items():
        xs = [_float(r[x]) for r in group]
        suffix = f" ({label})" if label else ""
        top.plot(
            xs, [_float(r["occupancy"]) for r in group], marker="o", label=f"occupancy{suffix}"
        )
        line = bottom.plot(
            xs,
            [_float(r["abandon_rate"]) for r in group],
            marker="o",
            label=f"abandon_rate{suffix}",
        )[0]
        bottom.plot(
            xs,
            [_float(r["max_hourly_abandon_rate"]) for r in group],
            marker="^",
            linestyle=":",
            color=line.get_color(),
            label=f"max_hourly_abandon_rate{suffix}",
        )
    bottom.axhline(ABANDON_CEILING, color="red", linestyle="--", label="3% ceiling")
    top.set_ylabel("occupancy")
    bottom.set_ylabel("abandon rate")
    bottom.set_xlabel(x.replace("_", " "))
    for ax in (top, bottom):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    bottom.set_ylim(bottom=0)
    if x in INTEGER_KEYWORDS:
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    elif x == "abandon_target":
        bottom.xaxis.set_major_formatter(PercentFormatter(1.0))
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)
