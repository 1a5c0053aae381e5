"""End-to-end engine AMD: every corpus clip as one call through the production path.

    python -m benchmarks.amd_e2e [--corpus ../shared/data/amd-corpus/dev] [--scale 0.1]
                                 [--agents 40] [--limit N] [--json]

Each clip of the corpus becomes one call (``CallScript(clip=...)``, outcome from its
label) in a progressive campaign through the real runner, the AMI adapter, the AMI
emulator streaming the clip over AudioSocket in 20 ms frames (``scale`` wall seconds per
modelled second), our AudioSocket server and detector (``simulator.engine_amd_run``).
Reported: how many verdicts given over the socket equal the offline verdict of the same
clip (``telephony.amd_corpus.run_detector``: verdict, time and reason), how the calls
were routed against the verdicts, the verdicts against the labels, decision times, and
the wall and CPU seconds of the run (one process: engine, emulator and detector share
one core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.ami_audio import CallAudio
from simulator.ami_scripts import CallScript, Outcome
from simulator.engine_amd_run import run_engine_campaign
from telephony.amd_corpus import run_detector

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "amd-corpus" / "dev"
# The far end's flow for each label (music on answer behaves as a recording).
OUTCOME = {
    "human": Outcome.HUMAN,
    "machine": Outcome.MACHINE,
    "fax": Outcome.FAX,
    "sit": Outcome.SIT,
    "silence": Outcome.DEAD_AIR,
    "music": Outcome.MACHINE,
}
ROUTED = {
    "human": "connected",
    "not_sure": "connected",
    "machine": "machine",
    "fax": "fax",
    "sit": "sit",
}


async def measure(corpus: Path, scale: float, agents: int, limit: int | None) -> dict[str, Any]:
    audio = CallAudio(corpus)
    clips = sorted(audio.clips.values(), key=lambda c: c.name)[:limit]
    scripts = [CallScript(OUTCOME[c.label], ring=1.0, talk=2.0, clip=c.name) for c in clips]
    run = await run_engine_campaign(
        scripts, corpus=corpus, scale=scale, agents=agents, timeout=600.0
    )
    results = {str(r.call): r for r in run.out.results}
    same = routed = 0
    by_label: dict[str, Counter[str]] = {}
    times: list[float] = []
    for rec in run.emulator.audio_streams:
        assert rec.clip is not None and rec.label is not None
        got = run.engine.results.get(rec.as_uuid)
        if got is None:
            continue
        off = run_detector(run.audio.samples(run.audio.clip(rec.clip)))
        same += (got.verdict, got.at_s, got.reason) == (off.verdict, off.at_s, off.reason)
        r = results.get(rec.call)
        routed += r is not None and str(r.outcome) == ROUTED[str(got.amd_verdict)]
        by_label.setdefault(rec.label, Counter())[str(got.verdict)] += 1
        times.append(got.at_s)
    humans, machines = by_label.get("human", Counter()), by_label.get("machine", Counter())
    n_hm = sum(humans.values()) + sum(machines.values())
    audio_s = sum(rec.sent_s for rec in run.emulator.audio_streams)
    return {
        "calls": run.out.dials,
        "streams": len(run.emulator.audio_streams),
        "verdicts_over_socket": len(run.engine.results),
        "same_as_offline": same,
        "routed_by_verdict": routed,
        "unfinished": run.out.unfinished,
        "accuracy_human_machine": round((humans["human"] + machines["machine"]) / n_hm, 4)
        if n_hm
        else None,
        "human_as_machine": humans["machine"],
        "machine_as_human": machines["human"],
        "median_decision_s": round(statistics.median(times), 2) if times else None,
        "by_label": {k: dict(v) for k, v in sorted(by_label.items())},
        "outcomes": dict(sorted(run.out.outcomes.items())),
        "scale": scale,
        "agents": agents,
        "audio_streamed_s": round(audio_s, 1),
        "wall_s": round(run.wall_s, 1),
        "cpu_s": round(run.cpu_s, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.amd_e2e", description=__doc__)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--scale", type=float, default=0.1, help="wall s per modelled s")
    p.add_argument("--agents", type=int, default=40)
    p.add_argument("--limit", type=int, default=None, help="first N clips only")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.scale > 0 or args.agents < 1:
        print("amd_e2e: --scale must be > 0 and --agents >= 1", file=sys.stderr)
        return 2
    result = asyncio.run(measure(args.corpus, args.scale, args.agents, args.limit))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
