"""AudioSocket load benchmark: how many calls one server process (one core) analyses at
once with real-time audio, and the CPU each costs.

    python -m benchmarks.audiosocket [--streams 50,200] [--speed 1.0] [--out benchmarks/results]

The server (telephony/audiosocket_server.py, our detector) runs in its own process,
pinned to one CPU where the OS allows. This process plays Asterisk: N connections at
once, each streaming a dev-corpus clip in 20 ms frames paced in real time (``--speed``
> 1 compresses time), until the server hands the call back. Reported per N: server CPU
seconds, CPU per stream, server CPU share of one core over the run (``load``), the
streams one core would carry at 100 % (N / load), verdicts received, and the verdict lag
(wall time from connect to hand-back minus the audio time the verdict was reached at:
queueing delay when the server falls behind). Writes ``audiosocket.md``/``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import time
import uuid
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from telephony.amd.detector import DetectorResult
from telephony.audiosocket_client import stream_call
from telephony.audiosocket_server import AudioSocketServer, AudioSocketSettings
from telephony.wavfile import read_wav

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "amd-corpus" / "dev" / "clips"
SAMPLE = ["dev-0001", "dev-0004", "dev-0017", "dev-0019", "dev-0030", "dev-0084", "dev-0006"]


def _server_main(conn: Connection) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    verdicts: dict[str, float] = {}

    def on_verdict(call: uuid.UUID, result: DetectorResult) -> None:
        verdicts[str(call)] = result.at_s

    async def run() -> None:
        settings = AudioSocketSettings(port=0, analysis_limit_s=30.0)
        async with AudioSocketServer(settings, on_verdict=on_verdict) as srv:
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            conn.send((srv.port, ru0.ru_utime + ru0.ru_stime))
            loop = asyncio.get_running_loop()
            while not await loop.run_in_executor(None, conn.poll, 0.2):
                pass
            conn.recv()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        conn.send({"cpu_s": ru.ru_utime + ru.ru_stime, "verdicts": verdicts})

    asyncio.run(run())


async def _clients(port: int, n: int, speed: float) -> tuple[float, dict[str, float]]:
    clips = [read_wav(CLIPS / f"{name}.wav")[: 8000 * 6] for name in SAMPLE]
    calls = [uuid.uuid4() for _ in range(n)]
    t0 = time.perf_counter()

    async def one(i: int, call: uuid.UUID) -> tuple[str, float]:
        await asyncio.sleep((i % 50) * 0.02 / max(speed, 1e-9))  # stagger the frame clocks
        out = await stream_call("127.0.0.1", port, call, clips[i % len(clips)], speed=speed)
        return str(call), out.closed_at_s if out.closed_at_s is not None else float("nan")

    done = await asyncio.gather(*(one(i, c) for i, c in enumerate(calls)))
    return time.perf_counter() - t0, dict(done)


def run_one(n: int, speed: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server_main, args=(child,))
    proc.start()
    port, cpu_ready = parent.recv()  # the server's start-up CPU is not the streams' cost
    wall, closed = asyncio.run(_clients(port, n, speed))
    parent.send("stop")
    report = parent.recv()
    proc.join(10)
    verdicts: dict[str, float] = report["verdicts"]
    # The frame that completes audio time t was sent at t - 20 ms after the stream start.
    lags = [closed[c] - (verdicts[c] - 0.02) / speed for c in verdicts if c in closed]
    cpu = float(report["cpu_s"]) - float(cpu_ready)
    load = cpu / wall if wall else 0.0
    return {
        "streams": n,
        "speed": speed,
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "cpu_ms_per_stream": round(1000 * cpu / n, 1),
        "server_load_one_core": round(load, 3),
        "streams_per_core_at_full_load": round(n / load) if load else None,
        "verdicts": len(verdicts),
        "lag_median_s": round(float(np.median(lags)), 3) if lags else None,
        "lag_p95_s": round(float(np.percentile(lags, 95)), 3) if lags else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.audiosocket")
    ap.add_argument("--streams", default="50,200")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    rows = [run_one(int(n), args.speed) for n in args.streams.split(",")]
    head = list(rows[0])
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    text = "\n".join(md) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audiosocket.md").write_text(
        "# AudioSocket load\n\n`python -m benchmarks.audiosocket`\n\n" + text, encoding="utf-8"
    )
    (args.out / "audiosocket.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
