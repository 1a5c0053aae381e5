"""The ``dialer`` command line: argument parsing and output, nothing else.

``dialer simulate`` follows the contract of ``shared/SCENARIOS.md``: with ``--json``,
stdout holds exactly one JSON object (a JSON list for a sweep) and nothing else; any
bad input (malformed scenario or ``--config`` file, unknown pacer or mode, bad override or
sweep spec) is a message on stderr and exit status 2, before anything runs. A ``--config``
file's settings override the scenario's; explicit flags override both. Progress bars go
to stderr, and only when stderr is a terminal. ``dialer demo`` runs the packaged demo
scenario in scaled real time with a live panel (``dialer.live_view``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dialer.config import DEFAULT_MODE, DialerConfig, load_config
from dialer.errors import ConfigError
from dialer.live_view import (
    LineReporter,
    LiveDemoView,
    RunsProgressBar,
    SimProgressBar,
    result_table,
)
from pacing.registry import PACERS
from simulator.configured import apply_config, engine_settings, pacer_factory
from simulator.run import MODES, resolve_pacer, run_scenario
from simulator.scenario import Scenario, load_scenario
from simulator.sweep import (
    Axis,
    SweepSpecError,
    Value,
    default_out_dir,
    format_cell,
    markdown_table,
    parse_spec,
    run_sweep,
    table_columns,
    write_outputs,
)

EXIT_USAGE = 2  # bad input: argparse's own status, and SCENARIOS.md's for a bad file
EXIT_INTERRUPTED = 130
# Default demo speed: 3 simulated hours in 45 s of real time.
DEMO_SPEED = 240.0
# The non-terminal demo prints a line every 15 simulated minutes.
DEMO_LINE_EVERY = 900.0


def _number(
    kind: Callable[[str], float], *, minimum: float, strict: bool
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum or (strict and value == minimum):
            sign = ">" if strict else ">="
            raise argparse.ArgumentTypeError(f"must be {sign} {minimum:g}, got {text}")
        return value

    return parse


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialer", description="Outbound predictive dialer engine and its simulator."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser(
        "simulate",
        help="run a scenario file on the simulator",
        description="Run a scenario (shared/SCENARIOS.md) and print its result.",
    )
    sim.add_argument("scenario", type=Path, metavar="SCENARIO.toml")
    sim.add_argument(
        "--mode", choices=MODES, default=None, help="default: the --config file's, else predictive"
    )
    sim.add_argument(
        "--pacer", choices=PACERS, default=None, help="pacing algorithm (default: the mode's own)"
    )
    sim.add_argument("--abandon-target", type=float, default=None, metavar="RATIO")
    sim.add_argument("--agents", type=_int_at_least(0), default=None, metavar="N")
    sim.add_argument("--seed", type=_int_at_least(0), default=None, metavar="N")
    sim.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="campaign and pacing settings (config.example.toml); they override the"
        " scenario's, flags override them, and --mode drops the file's mode and pacer",
    )
    sim.add_argument("--json", action="store_true", help="print the result as one JSON object")
    sim.add_argument(
        "--speed",
        type=_number(float, minimum=0.0, strict=False),
        default=0.0,
        metavar="X",
        help="0 (default): as fast as possible; X: X times real time",
    )
    sim.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="SPEC",
        help="NAME=START:STOP:STEP or NAME=V1,V2,... with NAME one of abandon-target, agents,"
        " connect-deadline, no-answer-timeout, seed; repeat for a grid",
    )
    sim.add_argument(
        "--jobs",
        type=_int_at_least(1),
        default=os.cpu_count() or 1,
        metavar="N",
        help="sweep processes (default: CPU count)",
    )
    sim.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="sweep outputs (./sweep-<name>/)"
    )
    sim.add_argument(
        "--backend",
        choices=("simulator", "ami-emulator"),
        default="simulator",
        help="ami-emulator: through the real AMI adapter and an emulated Asterisk, in scaled"
        " real time (dialer/cli_ami.py)",
    )
    sim.add_argument(
        "--amd",
        choices=("asterisk", "engine"),
        default="asterisk",
        help="with --backend ami-emulator: engine = our detector over AudioSocket, the"
        " emulator streaming corpus clips (needs --amd-corpus; docs/amd-e2e.md)",
    )
    sim.add_argument(
        "--amd-corpus", type=Path, default=None, metavar="DIR", help="clips/ + manifest.csv"
    )

    demo = sub.add_parser(
        "demo",
        help="watch a predictive campaign on the simulator, live",
        description="A 20-agent collections campaign, predictive pacing, in scaled real time.",
    )
    demo.add_argument(
        "--speed",
        type=_number(float, minimum=0.0, strict=False),
        default=DEMO_SPEED,
        metavar="X",
        help=f"simulated seconds per real second (default {DEMO_SPEED:g}; 0: no waiting)",
    )
    demo.add_argument(
        "--hours",
        type=_number(float, minimum=0.0, strict=True),
        default=None,
        metavar="H",
        help="simulated hours (default 3)",
    )
    demo.add_argument(
        "--agents",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="agents (default 20; the break scales with them)",
    )
    for register in _command_groups():
        register(sub)
    return parser


# Further command groups live in their own modules (``dialer/cli_<topic>.py``); each has
# ``add_commands(sub)``, which adds its subparsers and sets ``handler`` on them: a
# callable taking the parsed arguments and returning the exit status.
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _command_groups() -> list[Registrar]:
    from dialer import (  # noqa: PLC0415
        cli_amd,
        cli_ami,
        cli_campaign,
        cli_db,
        cli_leads,
        cli_rules,
    )

    return [
        cli_db.add_commands,
        cli_leads.add_commands,
        cli_campaign.add_commands,
        cli_rules.add_commands,
        cli_ami.add_commands,
        cli_amd.add_commands,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dialer`` and ``python -m dialer``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        handler = getattr(args, "handler", None)
        if handler is not None:
            status: int = handler(args)
            return status
        if args.command == "simulate" and args.backend == "ami-emulator":
            from dialer.cli_ami import simulate_ami  # noqa: PLC0415

            return simulate_ami(args)
        if args.command == "simulate":
            return _simulate(args)
        return _demo(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: object) -> int:
    print(f"dialer: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _simulate(args: argparse.Namespace) -> int:
    try:
        config = None if args.config is None else load_config(args.config)
        if args.mode is None:  # no --mode: the file's mode and pacer (--pacer still wins)
            args.mode = DEFAULT_MODE if config is None else config.mode
            args.pacer = args.pacer or (None if config is None else config.pacer)
        pacer = resolve_pacer(args.mode, args.pacer)
        scenario = apply_config(load_scenario(args.scenario), config).replace_settings(
            agents=args.agents, abandon_target=args.abandon_target, seed=args.seed
        )
        factory = pacer_factory(config, pacer)
        if factory is not None:
            factory(scenario)  # a value the pacer refuses with this scenario: nothing runs
        settings = engine_settings(config)
        axes = [parse_spec(spec) for spec in args.sweep]
    except (ConfigError, SweepSpecError, ValueError) as exc:
        return _fail(exc)
    if axes:
        return _sweep(args, scenario, axes, config)
    err = Console(stderr=True)
    if sys.stderr.isatty():
        label = f"{scenario.name} ({pacer})"
        with SimProgressBar(err, label=label, duration=scenario.duration) as bar:
            result = run_scenario(
                scenario,
                mode=args.mode,
                pacer=args.pacer,
                speed=args.speed,
                on_progress=bar,
                progress_every=max(scenario.duration / 200, 1.0),
                pacer_factory=factory,
                settings=settings,
            )
    else:
        result = run_scenario(
            scenario,
            mode=args.mode,
            pacer=args.pacer,
            speed=args.speed,
            pacer_factory=factory,
            settings=settings,
        )
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        Console().print(result_table(result, title=f"{scenario.name}: {args.mode}, {pacer}"))
    return 0


def _sweep(
    args: argparse.Namespace, scenario: Scenario, axes: list[Axis], config: DialerConfig | None
) -> int:
    over = {} if config is None else config.campaign_overrides()
    base: dict[str, Value] = {
        name: value
        for name, value in (
            ("agents", args.agents),
            ("seed", args.seed),
            (
                "abandon_target",
                over.get("abandon_target") if args.abandon_target is None else args.abandon_target,
            ),
            ("connect_deadline", over.get("connect_deadline")),
            ("no_answer_timeout", over.get("no_answer_timeout")),
        )
        if value is not None
    }
    total = 1
    for axis in axes:
        total *= len(axis.values)
    out_dir = args.out if args.out is not None else default_out_dir(scenario.name)

    def run(on_done: Callable[[int, int], None] | None) -> list[dict[str, object]]:
        return run_sweep(
            args.scenario,
            axes,
            mode=args.mode,
            pacer=args.pacer,
            base=base,
            jobs=args.jobs,
            on_done=on_done,
            config_path=args.config,
        )

    try:
        if sys.stderr.isatty():
            label = f"sweep {scenario.name}"
            with RunsProgressBar(Console(stderr=True), label=label, total=total) as bar:
                rows = run(bar)
        else:
            rows = run(None)
    except (ConfigError, SweepSpecError, ValueError) as exc:
        return _fail(exc)
    swept = [axis.name for axis in axes]
    title = f"{scenario.name}, {args.mode} ({resolve_pacer(args.mode, args.pacer)})"
    paths = write_outputs(rows, swept, out_dir, title=title)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif sys.stdout.isatty():
        table = Table(title=f"sweep: {title}", title_justify="left")
        columns = table_columns(swept)
        for column in columns:
            # Spaced names let rich wrap a header instead of cutting it to "aba…".
            table.add_column(column.replace("_", " "), justify="right", overflow="fold")
        for row in rows:
            table.add_row(*(format_cell(c, row.get(c)) for c in columns))
        Console().print(table)
    else:
        # Pipes and files get the markdown table: plain text, any width.
        sys.stdout.write(markdown_table(rows, swept))
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    ref = resources.files("simulator") / "scenarios" / "demo.toml"
    try:
        with resources.as_file(ref) as path:
            scenario = load_scenario(path)
        scenario = scenario.replace_settings(
            agents=args.agents, duration=None if args.hours is None else args.hours * 3600
        )
    except ConfigError as exc:
        return _fail(exc)
    speed: float = args.speed
    out = Console()
    pace = f"x{speed:g} real time" if speed > 0 else "as fast as possible"
    title = f"dialer demo: {scenario.name}, predictive, {scenario.agents.count} agents, {pace}"
    start = scenario.start
    if sys.stdout.isatty():
        # A frame every ~0.5 s real time; sample a little more often than that.
        every = min(max(speed * 0.1, 1.0), DEMO_LINE_EVERY) if speed > 0 else 60.0
        view = LiveDemoView(
            out, title=title, start=start, abandon_target=scenario.campaign.abandon_target
        )
        with view:
            result = run_scenario(
                scenario, mode="predictive", speed=speed, on_progress=view, progress_every=every
            )
    else:
        print(title, flush=True)
        reporter = LineReporter(
            lambda line: print(line, flush=True), start=start, every=DEMO_LINE_EVERY
        )
        result = run_scenario(
            scenario,
            mode="predictive",
            speed=speed,
            on_progress=reporter,
            progress_every=DEMO_LINE_EVERY,
        )
    out.print(result_table(result, title=f"result: {scenario.name}"))
    return 0
