"""``python -m simulator.ami_emulator``: run the AMI emulator as a standalone server.

The secret comes from the ``AMI_EMULATOR_SECRET`` environment variable, never from the
command line, where ``ps`` would show it; unset, a random one is made for the run and
printed once at start (this is a loopback test server, and its client needs it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dialer.errors import ConfigError
from simulator.ami_audio import CallAudio
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome, TrafficModel
from simulator.scenario import load_scenario


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m simulator.ami_emulator",
        description="Run the AMI emulator until interrupted (Ctrl-C). The secret is read "
        "from the AMI_EMULATOR_SECRET environment variable (unset: a random one, printed).",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5038, help="TCP port; 0 picks a free one")
    p.add_argument("--username", default="dialer", help="AMI user (default dialer)")
    p.add_argument("--time-scale", type=float, default=1.0, help="wall s per modelled s")
    p.add_argument("--scenario", help="draw calls from this scenario file's traffic model")
    p.add_argument("--seed", type=int, help="traffic model seed (default: the scenario's)")
    outcomes = ", ".join(o.value for o in Outcome)
    p.add_argument("--outcome", default="human", help=f"every call's fate: {outcomes}")
    p.add_argument("--engine-routing", action="store_true", help="hold for the engine")
    p.add_argument("--agents", default="", help="agents logged in at start: 1001,1002")
    p.add_argument(
        "--audio-corpus",
        help="stream clips of this corpus (clips/ + manifest.csv) to the AudioSocket server"
        " of calls sent to dialer-outbound,engine (simulator/ami_audio.py)",
    )
    p.add_argument(
        "--audiosocket",
        default="127.0.0.1:9092",
        help="the dialplan's DIALER_AS_SERVER, host:port (default 127.0.0.1:9092)",
    )
    return p.parse_args(argv)


async def _serve(
    args: argparse.Namespace, model: TrafficModel | None, audio: CallAudio | None
) -> None:
    emu = AmiEmulator(
        host=args.host,
        port=args.port,
        username=args.username,
        secret=os.environ.get("AMI_EMULATOR_SECRET") or None,
        time_scale=args.time_scale,
        dialplan=DialplanConfig(
            engine_routing=args.engine_routing, audiosocket_server=args.audiosocket
        ),
        default_script=CallScript(Outcome(args.outcome)),
        model=model,
        audio=audio,
    )
    async with emu:
        for agent in filter(None, args.agents.split(",")):
            emu.agent_login(agent.strip())
        print(f"AMI emulator listening on {emu.host}:{emu.port}", flush=True)
        if not os.environ.get("AMI_EMULATOR_SECRET"):
            print(f"AMI secret for this run: {emu.secret}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; exit status 2 on bad input, with the reason on stderr."""
    args = _parse_args(argv)
    try:
        Outcome(args.outcome)
        if not args.time_scale > 0:
            raise ValueError(f"--time-scale must be > 0, got {args.time_scale}")
        model = None
        if args.scenario:
            model = TrafficModel(load_scenario(args.scenario), seed=args.seed)
        DialplanConfig(audiosocket_server=args.audiosocket)  # ValueError if not host:port
        audio = None
        if args.audio_corpus:
            audio = CallAudio(Path(args.audio_corpus), seed=args.seed or 0)
    except (ValueError, ConfigError) as exc:
        print(f"ami_emulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args, model, audio))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"ami_emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
