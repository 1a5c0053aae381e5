"""``dialer telephony check`` and ``dialer simulate --backend ami-emulator``.

``telephony check`` is the Asterisk administrator's first command: it connects and logs
in to each configured server, pings it, looks for the dialplan contexts of
``asterisk/extensions_dialer.conf``, lists the agents already in their conferences and,
with ``--call NUMBER``, places one test call and reports what happened. Each line starts
with ``ok``, ``FAIL`` or ``skip``; exit status 0 when nothing failed, 1 otherwise, 2 for
bad input. The secret is read from an environment variable, never from the command line
(where ``ps`` would show it), and is never printed.

``simulate --backend ami-emulator`` runs a scenario through the production path: the
runner, the AMI adapter (panoramisk, TCP on 127.0.0.1) and the emulated Asterisk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dialer.errors import ConfigError, TelephonyError
from dialer.ids import CallId, LeadId
from dialer.toml_file import read_toml
from telephony.ami import AmiTelephony
from telephony.ami_config import servers_from_config
from telephony.ami_settings import AmiSettings, Trunk
from telephony.events import CallAnswered, CallFailed, CallHungUp, CallRinging
from telephony.port import Originate, e164_digits

EXIT_USAGE = 2
SECRET_ENV = "DIALER_AMI_SECRET"
# What the common failures mean (docs/asterisk.md, "Troubleshooting", says more).
HINTS = (
    (
        "Connection refused",
        "AMI is not listening there: manager.conf [general] enabled = yes,"
        " port, bindaddr; then 'manager reload'",
    ),
    ("timed out", "no answer from that address: wrong host, or a firewall drops port 5038"),
    (
        "Authentication failed",
        "wrong username or secret, or the [dialer] user's permit/deny does not allow this host",
    ),
    ("Permission denied", "the AMI user lacks a write privilege: see manager.conf.example"),
    (
        "Did not find context",
        "extensions_dialer.conf is not #included, or the dialplan was"
        " not reloaded ('dialplan reload')",
    ),
)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tel = sub.add_parser("telephony", help="Asterisk (AMI) wiring tools")
    tsub = tel.add_subparsers(dest="telephony_command", required=True, metavar="COMMAND")
    check = tsub.add_parser(
        "check",
        help="connect, log in, check the dialplan, optionally place one test call",
        description="Check the wiring to Asterisk: AMI login, dialplan contexts, agents,"
        " and optionally one real test call.",
    )
    check.add_argument("--config", type=Path, metavar="FILE", help="a file with an [ami] section")
    check.add_argument("--host", default="127.0.0.1")
    check.add_argument("--port", type=int, default=5038)
    check.add_argument("--username", default="dialer")
    check.add_argument(
        "--secret-env",
        default=SECRET_ENV,
        metavar="VAR",
        help=f"environment variable holding the AMI secret (default {SECRET_ENV})",
    )
    check.add_argument(
        "--trunk",
        default="PJSIP/{number}@trunk",
        metavar="TEMPLATE",
        help="dial string template for the test call (default PJSIP/{number}@trunk)",
    )
    check.add_argument("--exten", default="amd", help="outbound extension: amd or engine")
    check.add_argument("--call", metavar="NUMBER", help="place one test call to this number")
    check.add_argument("--ring-timeout", type=float, default=30.0, metavar="S")
    check.add_argument("--timeout", type=float, default=5.0, metavar="S", help="connect timeout")
    check.set_defaults(handler=check_command)


def _fail(message: object) -> int:
    print(f"dialer: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _servers(args: argparse.Namespace) -> tuple[AmiSettings, ...]:
    if args.config is not None:
        data = read_toml(args.config)
        if "ami" not in data:
            raise ConfigError(str(args.config), "ami", "no [ami] section")
        return servers_from_config(data["ami"], source=str(args.config), env=os.environ)
    secret = os.environ.get(args.secret_env)
    if secret is None:
        raise ConfigError("environment", args.secret_env, "not set: export the AMI secret there")
    try:
        trunk = Trunk(name="check", template=args.trunk, channels=1)
        return (
            AmiSettings(
                host=args.host,
                port=args.port,
                username=args.username,
                secret=secret,
                trunks=(trunk,),
                outbound_exten=args.exten,
                connect_timeout=args.timeout,
            ),
        )
    except ValueError as exc:
        raise ConfigError("command line", "ami", str(exc)) from None


def check_command(args: argparse.Namespace) -> int:
    try:
        servers = _servers(args)
        number = None if args.call is None else e164_digits(args.call)
        if not args.ring_timeout > 0:
            raise ValueError("--ring-timeout must be > 0 seconds")
    except (ConfigError, TelephonyError, ValueError) as exc:
        return _fail(exc)
    failed = asyncio.run(_check_all(servers, number, args.ring_timeout))
    return 1 if failed else 0


def _say(status: str, text: str) -> None:
    print(f"  {status:<4} {text}", flush=True)


def _hint(text: str) -> None:
    for needle, meaning in HINTS:
        if needle.lower() in text.lower():
            print(f"       -> {meaning}", flush=True)


async def _check_all(servers: tuple[AmiSettings, ...], number: str | None, ring: float) -> int:
    failed = 0
    for s in servers:
        print(f"AMI {s.label}")
        failed += await _check_one(s, number, ring)
    return failed


async def _check_one(s: AmiSettings, number: str | None, ring: float) -> int:
    tel = AmiTelephony([s])
    t0 = time.perf_counter()
    try:
        await tel.start()
    except TelephonyError as exc:
        _say("FAIL", str(exc))
        _hint(str(exc))
        return 1
    failed = 0
    try:
        _say("ok", f"logged in as {s.username!r} in {1000 * (time.perf_counter() - t0):.0f} ms")
        t0 = time.perf_counter()
        await tel.ask({"Action": "Ping"})
        _say("ok", f"ping {1000 * (time.perf_counter() - t0):.1f} ms")
        failed += await _check_dialplan(tel, s)
        agents = sorted(tel.agents_present())
        _say("ok", f"agents in their conference: {', '.join(agents) if agents else 'none'}")
        if number is not None:
            failed += await _test_call(tel, s, number, ring)
    except TelephonyError as exc:
        _say("FAIL", str(exc))
        failed += 1
    finally:
        await tel.close()
    return failed


async def _check_dialplan(tel: AmiTelephony, s: AmiSettings) -> int:
    wanted = [
        (s.outbound_context, s.outbound_exten),
        (s.outbound_context, "hold"),
        (s.route_context, s.abandon_exten),
        (s.route_context, s.machine_exten),
        (s.conference_context, None),
        (s.login_context, None),
    ]
    failed = 0
    for context, exten in wanted:
        action: dict[str, str | list[str]] = {"Action": "ShowDialPlan", "Context": context}
        if exten is not None:
            action["Extension"] = exten
        what = context if exten is None else f"{context},{exten}"
        reply = await tel.ask(action)
        first = reply[0] if reply else {}
        if first.get("Response") == "Success":
            _say("ok", f"dialplan {what}")
            continue
        message = first.get("Message", "no reply")
        if "permission denied" in message.lower() or "invalid/unknown" in message.lower():
            _say("skip", f"dialplan {what}: cannot check ({message})")
            _hint(message)
            continue
        _say("FAIL", f"dialplan {what}: {message}")
        _hint(message)
        failed += 1
    return failed


async def _test_call(tel: AmiTelephony, s: AmiSettings, number: str, ring: float) -> int:
    call = CallId(f"check-{os.getpid()}")
    dial = s.trunks[0].dial_string(number)
    print(f"  test call to {number} via {dial} ({s.outbound_context},{s.outbound_exten})")
    t0 = asyncio.get_running_loop().time()
    await tel.originate(Originate(call, LeadId("check"), number, ring))
    events = tel.events().__aiter__()
    deadline = ring + 60.0
    while True:
        try:
            ev = await asyncio.wait_for(events.__anext__(), deadline)
        except (TimeoutError, StopAsyncIteration):
            _say("FAIL", "no outcome reported: is the 'call' event class in the user's read=?")
            return 1
        t = ev.at - t0
        if isinstance(ev, CallRinging):
            _say("ok", f"ringing after {t:.1f} s")
        elif isinstance(ev, CallAnswered):
            _say(
                "ok", f"answered after {ev.answered_at - t0:.1f} s; AMD: {ev.verdict} at {t:.1f} s"
            )
            await tel.hangup(call)
        elif isinstance(ev, CallFailed):
            _say("ok", f"not answered: {ev.cause} after {t:.1f} s (the wiring works)")
            return 0
        elif isinstance(ev, CallHungUp):
            _say("ok", f"hung up ({ev.side}) after {t:.1f} s")
            return 0


# ---------------------------------------------------------------- simulate backend

AMI_MAX_WALL = 60.0  # seconds of real time a --backend ami-emulator run lasts at most
AMI_DEFAULT_SPEED = 10.0


def simulate_ami(args: argparse.Namespace) -> int:
    """``dialer simulate --backend ami-emulator``: the scenario in scaled real time
    through the real runner, the AMI adapter and the emulator (at most
    ``AMI_MAX_WALL`` seconds of wall time; ``--speed`` default 10)."""
    from simulator.run import resolve_pacer  # noqa: PLC0415 - keeps plain CLI start fast
    from simulator.scenario import load_scenario  # noqa: PLC0415

    if args.sweep:
        return _fail("--sweep is not supported with --backend ami-emulator")
    try:
        scenario = load_scenario(args.scenario).replace_settings(
            agents=args.agents, abandon_target=args.abandon_target, seed=args.seed
        )
        mode = args.mode or "predictive"
        pacer_name = resolve_pacer(mode, args.pacer)
    except (ConfigError, ValueError) as exc:
        return _fail(exc)
    speed = args.speed if args.speed > 0 else AMI_DEFAULT_SPEED
    audio = None
    if getattr(args, "amd", "asterisk") == "engine":
        from simulator.ami_audio import CallAudio  # noqa: PLC0415

        if args.amd_corpus is None:
            return _fail("--amd engine needs --amd-corpus DIR (clips/ + manifest.csv)")
        try:
            audio = CallAudio(args.amd_corpus, seed=scenario.seed)
        except ValueError as exc:
            return _fail(exc)
    result = asyncio.run(_simulate(scenario, pacer_name, speed, audio))
    result.update({"mode": mode, "pacer": pacer_name})
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        from rich.console import Console  # noqa: PLC0415
        from rich.table import Table  # noqa: PLC0415

        table = Table(title=f"{scenario.name}: {mode} through AMI (emulator), x{speed:g}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in result.items():
            table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
        Console().print(table)
    return 0


async def _simulate(
    scenario: Any, pacer_name: str, speed: float, audio: Any = None
) -> dict[str, Any]:
    """``audio`` (a ``simulator.ami_audio.CallAudio``): ``amd = "engine"``, our detector
    over AudioSocket (``telephony.engine_amd``) on corpus clips; ``None``: AMD()."""
    from dialer.ami_run import run_campaign  # noqa: PLC0415
    from dialer.settings import CampaignSettings  # noqa: PLC0415
    from pacing.registry import make_pacer  # noqa: PLC0415
    from simulator.ami_calls import DialplanConfig  # noqa: PLC0415
    from simulator.ami_emulator import AmiEmulator  # noqa: PLC0415
    from simulator.ami_scripts import TrafficModel  # noqa: PLC0415
    from simulator.portfolio import SyntheticPortfolio  # noqa: PLC0415

    scale = 1.0 / speed
    secret = os.urandom(12).hex()  # the emulator's, for this run only
    cp = scenario.campaign
    emu = AmiEmulator(
        secret=secret,
        time_scale=scale,
        dialplan=DialplanConfig(engine_routing=True, hold=cp.connect_deadline + 1.0),
        model=TrafficModel(scenario),
        audio=audio,
    )
    await emu.start()
    engine = None
    try:
        trunk = Trunk(name="emulated", template="PJSIP/{number}@carrier", channels=10_000)
        exten = "amd" if audio is None else "engine"
        settings = AmiSettings(
            host=emu.host, port=emu.port, secret=secret, trunks=(trunk,), outbound_exten=exten
        )
        tel = AmiTelephony([settings])
        if audio is not None:
            from simulator.ami_audio import engine_amd_for  # noqa: PLC0415

            engine = await engine_amd_for(emu, tel)
        await tel.start()
        agents = [str(1001 + i) for i in range(scenario.agents.count)]
        for agent in agents:
            emu.agent_login(agent)
        campaign = CampaignSettings(
            connect_deadline=cp.connect_deadline * scale,
            abandon_target=cp.abandon_target,
            no_answer_timeout=cp.no_answer_timeout,  # modelled: the emulator scales it
            tick_interval=0.25 * scale,
            min_tick_interval=0.25 * scale,
            lead_retry_interval=30 * scale,
            max_lines=cp.max_lines,
        )
        pacer = make_pacer(
            pacer_name,
            abandon_target=cp.abandon_target,
            connect_deadline=cp.connect_deadline * scale,
        )
        rng = np.random.default_rng(scenario.seed)
        wall = min(scenario.duration * scale, AMI_MAX_WALL)
        leads = SyntheticPortfolio(1_000_000)
        runner, out = await run_campaign(
            tel,
            pacer=pacer,
            leads=leads,
            settings=campaign,
            wrapup=lambda: float(scenario.agents.wrapup.sample(rng)) * scale,
            timeout=wall,
        )
    finally:
        if engine is not None:
            await engine.close()
        await emu.stop()
    extra: dict[str, Any] = {}
    if engine is not None:
        from simulator.ami_audio import engine_amd_summary  # noqa: PLC0415

        extra["engine_amd"] = engine_amd_summary(emu.audio_streams, engine.results)
    return {
        "scenario": scenario.name,
        "backend": "ami-emulator",
        "speed": speed,
        "wall_seconds": round(out.seconds, 1),
        "modelled_seconds": round(out.seconds * speed, 1),
        "agents": len(agents),
        "dials": out.dials,
        "connected": runner.stats.connected,
        "abandoned": runner.stats.abandoned,
        "abandon_rate": round(runner.stats.abandon_rate, 4),
        "in_flight_at_end": out.unfinished,
        "outcomes": dict(sorted(out.outcomes.items())),
        "adapter": dict(tel.stats),
    } | extra
