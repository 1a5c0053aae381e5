"""Terminal rendering for the CLI: the live demo panel, progress lines, result tables.

Rendering is separated from sampling: ``take_snapshot`` copies the numbers a view shows
out of a running simulation (``simulator.run.Progress``) into a frozen ``Snapshot``, and
the render functions are pure functions of a snapshot. The two ``on_progress`` views
(``LiveDemoView`` for a terminal, ``LineReporter`` for pipes and CI) only decide *when*
to render. Times are seconds of simulated shift unless named ``real``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agents.state import AgentState

if TYPE_CHECKING:
    from simulator.run import Progress

# What the panel calls each agent state, in the order it lists them.
STATE_LABELS: dict[AgentState, str] = {
    AgentState.READY: "ready",
    AgentState.RESERVED: "reserved",
    AgentState.ON_CALL: "on call",
    AgentState.WRAPUP: "wrap-up",
    AgentState.PAUSED: "paused",
    AgentState.OFFLINE: "logged out",
}
# Result keys shown as percentages (besides the raw ratio) in the summary table.
_RATIO_KEYS = frozenset(
    {"abandon_rate", "abandon_rate_true", "max_hourly_abandon_rate", "occupancy"}
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The numbers of one live-view frame. Rates are ratios in 0..1.

    ``abandon_rate`` is the engine's view (machines passed as people count as live);
    ``occupancy`` is ground truth from the ledger, over logged time so far.
    """

    sim_seconds: float
    duration: float
    clock: datetime
    agents: Mapping[str, int]
    in_flight: int
    dials: int
    live: int
    connected: int
    abandoned: int
    lost: int
    abandon_rate: float
    occupancy: float
    decision_dials: int
    explain: Mapping[str, float | int | str] = field(default_factory=dict)


def take_snapshot(progress: Progress, start: datetime) -> Snapshot:
    """Copy what the panel shows out of a running simulation; ``start`` is its wall clock."""
    runner, stats = progress.runner, progress.runner.stats
    counts = runner.counts_by_state()
    decision = runner.last_decision
    return Snapshot(
        sim_seconds=progress.sim_seconds,
        duration=progress.duration,
        clock=start + timedelta(seconds=progress.sim_seconds),
        agents={label: counts.get(state, 0) for state, label in STATE_LABELS.items()},
        in_flight=runner.calls_in_flight,
        dials=stats.dials,
        live=stats.live,
        connected=stats.connected,
        abandoned=stats.abandoned,
        lost=stats.lost,
        abandon_rate=stats.abandon_rate,
        occupancy=float(progress.ledger.result(now=progress.sim_seconds)["occupancy"]),
        decision_dials=decision.dials,
        explain=dict(decision.explain),
    )


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _num(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_panel(snap: Snapshot, *, title: str, abandon_target: float) -> Panel:
    """One frame of the demo: clock, agents, traffic, rates and the pacer's last decision."""
    head = Table.grid(padding=(0, 2))
    head.add_row(
        Text(snap.clock.strftime("%H:%M"), style="bold cyan"),
        ProgressBar(total=max(snap.duration, 1e-9), completed=snap.sim_seconds, width=40),
        Text(f"{_hms(snap.sim_seconds)} / {_hms(snap.duration)} simulated"),
    )

    agents = Table(title="agents", show_header=False, box=None, title_justify="left")
    for label, n in snap.agents.items():
        agents.add_row(label, str(n))

    calls = Table(title="calls", show_header=False, box=None, title_justify="left")
    for label, value in (
        ("in flight", snap.in_flight),
        ("dials", snap.dials),
        ("live answers", snap.live),
        ("connected", snap.connected),
        ("abandoned", snap.abandoned),
        ("lost in detection", snap.lost),
    ):
        calls.add_row(label, f"{value:,}")

    over = snap.abandon_rate > abandon_target
    rates = Table(title="rates", show_header=False, box=None, title_justify="left")
    rates.add_row(
        "abandon rate (engine)",
        Text(f"{snap.abandon_rate:.2%}", style="bold red" if over else "bold green"),
    )
    rates.add_row("target", f"{abandon_target:.2%}")
    rates.add_row("occupancy (truth)", f"{snap.occupancy:.1%}")

    pacer = Table(title="last pacing decision", show_header=False, box=None, title_justify="left")
    pacer.add_row("dials", str(snap.decision_dials))
    for key, number in snap.explain.items():
        if key != "dials":
            pacer.add_row(key, _num(number))

    body = Table.grid(padding=(0, 4))
    body.add_row(agents, calls, rates, pacer)
    return Panel(Group(head, Text(""), body), title=title, border_style="blue")


def progress_line(snap: Snapshot) -> str:
    """One plain line of progress, for logs and pipes."""
    busy = snap.agents.get("on call", 0) + snap.agents.get("wrap-up", 0)
    return (
        f"{snap.clock:%H:%M} ({_hms(snap.sim_seconds)} / {_hms(snap.duration)})"
        f"  agents ready {snap.agents.get('ready', 0)} busy {busy}"
        f"  in flight {snap.in_flight}  dials {snap.dials}  live {snap.live}"
        f"  connected {snap.connected}  abandoned {snap.abandoned}"
        f"  abandon {snap.abandon_rate:.2%}  occupancy {snap.occupancy:.1%}"
    )


def result_table(result: Mapping[str, object], *, title: str = "result") -> Table:
    """Every result key with its value; ratios also as a percentage, seconds as h:mm:ss."""
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("value", justify="right")
    table.add_column("", style="dim")
    for key, value in result.items():
        note = ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            shown = str(value)
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = f"{value:.4f}" if key in _RATIO_KEYS else f"{value:,.2f}"
            if key in _RATIO_KEYS:
                note = f"{value:.2%}"
            elif key.endswith("_seconds") and value >= 60:
                note = _hms(value)
        table.add_row(key, shown, note)
    return table


class _RichDisplay:
    """A context manager around one rich display (``Live`` or ``Progress``): entering
    starts drawing it, leaving stops it."""

    _display: Live | RichProgress

    def __enter__(self) -> Self:
        self._display.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._display.__exit__(exc_type, exc, tb)


class LiveDemoView(_RichDisplay):
    """``on_progress`` for a terminal: a rich.live panel refreshed every ``refresh_every``
    real seconds (``clock`` is the real clock, injectable for tests)."""

    def __init__(
        self,
        console: Console,
        *,
        title: str,
        start: datetime,
        abandon_target: float,
        refresh_every: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._title, self._start, self._target = title, start, abandon_target
        self._every, self._clock = refresh_every, clock
        self._last = -float("inf")
        self._display = self._live = Live(
            Panel(Text("starting..."), title=title), console=console, auto_refresh=False
        )

    def __call__(self, progress: Progress) -> None:
        now = self._clock()
        if now - self._last < self._every and progress.sim_seconds < progress.duration:
            return
        self._last = now
        panel = render_panel(
            take_snapshot(progress, self._start), title=self._title, abandon_target=self._target
        )
        self._live.update(panel, refresh=True)


class LineReporter:
    """``on_progress`` for pipes and CI: a plain line each ``every`` simulated seconds."""

    def __init__(
        self, write: Callable[[str], None], *, start: datetime, every: float = 900.0
    ) -> None:
        self._write, self._start, self._every = write, start, every
        self._next = 0.0
        self._ended = False

    def __call__(self, progress: Progress) -> None:
        # Ticks may land a hair late: report each boundary once, when first crossed,
        # and the end of the shift once.
        end = progress.sim_seconds >= progress.duration
        due = progress.sim_seconds + 1e-6 >= self._next
        if self._ended or not (due or end):
            return
        self._write(progress_line(take_snapshot(progress, self._start)))
        self._ended = end
        while self._next <= progress.sim_seconds + 1e-6:
            self._next += self._every


class SimProgressBar(_RichDisplay):
    """``on_progress`` drawing a rich progress bar of simulated time (meant for stderr)."""

    def __init__(self, console: Console, *, label: str, duration: float) -> None:
        self._display = self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[sim]} simulated"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task(label, total=duration, sim=_hms(0))

    def __call__(self, progress: Progress) -> None:
        self._bar.update(self._task, completed=progress.sim_seconds, sim=_hms(progress.sim_seconds))


class RunsProgressBar(_RichDisplay):
    """``on_done(done, total)`` for sweeps: a rich progress bar of runs finished."""

    def __init__(self, console: Console, *, label: str, total: int) -> None:
        self._display = self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._bar.add_task(label, total=total)

    def __call__(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)
