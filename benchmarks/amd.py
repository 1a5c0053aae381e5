"""AMD benchmark: our detector against a port of Asterisk's AMD(), on the dev corpus.

    python -m benchmarks.amd [--corpus ../shared/data/amd-corpus/dev] [--out benchmarks/results]
                             [--no-cv]

For each detector, every clip is streamed in 20 ms pieces through a fresh detector (as a
call delivers audio) and scored (telephony/amd/metrics.py). Our detector is reported
twice: **cross-validated** (nested 5-fold, out-of-fold verdicts: each clip judged by a
model and thresholds that never saw it; benchmarks/amd_train.py) and **in-sample** (the
shipped model, trained on all of dev, so optimistic). The Asterisk port has no training.
Speed: CPU seconds (``time.process_time``, one process, one core) spent in the detector
over the audio it analysed, as "x real time"; the detector stops at its verdict, so the
audio analysed per clip is up to the verdict. Writes ``amd.md`` and ``amd.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.amd_train import DEFAULT_CORPUS, cross_validate, load_traces
from telephony.amd.detector import AmdDetector
from telephony.amd.frames import FRAME_SAMPLES, SAMPLE_RATE
from telephony.amd.metrics import score
from telephony.amd_corpus import load_manifest, run_detector
from telephony.amd_eval import evaluate_corpus
from telephony.wavfile import read_wav

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = (
    "accuracy",
    "human_as_machine_rate",
    "machine_as_human_rate",
    "median_decision_s",
    "p95_decision_s",
)


def speed(corpus: Path, kind: str) -> dict[str, float]:
    """x real time: audio seconds analysed per CPU second, streaming 20 ms pieces, and
    analysing whole clips (5 s each, one detector, no early stop) in 20 ms pieces."""
    clips = [read_wav(c.path) for c in load_manifest(corpus)]
    audio = 0.0
    t0 = time.process_time()
    for x in clips:
        out = run_detector(x, kind)  # type: ignore[arg-type]
        audio += min(out.at_s, x.size / SAMPLE_RATE)
    spent = time.process_time() - t0
    full = 0.0
    t1 = time.process_time()
    if kind == "engine":
        for x in clips:
            det = AmdDetector()
            seg = x[: 5 * SAMPLE_RATE]
            for i in range(0, seg.size, FRAME_SAMPLES):
                det.feed(seg[i : i + FRAME_SAMPLES])
            full += seg.size / SAMPLE_RATE
    spent_full = time.process_time() - t1
    return {
        "audio_s_to_verdict": round(audio, 1),
        "cpu_s": round(spent, 3),
        "x_real_time": round(audio / spent, 1) if spent else 0.0,
        "x_real_time_full_5s": round(full / spent_full, 1) if full and spent_full else 0.0,
    }


def _row(name: str, m: dict[str, Any]) -> str:
    pl = m["per_label"]
    adv = m["per_tag"].get("adversarial", {}).get("accuracy")
    rest = _rest(m)
    return (
        f"| {name} | {m['accuracy']:.1%} | {m['human_as_machine_rate']:.1%} | "
        f"{m['machine_as_human_rate']:.1%} | {m['median_decision_s']:.2f} | "
        f"{m['p95_decision_s']:.2f} | {pl.get('fax', {}).get('recall', 0):.0%} | "
        f"{pl.get('sit', {}).get('recall', 0):.0%} | "
        f"{'-' if adv is None else f'{adv:.1%}'} | {'-' if rest is None else f'{rest:.1%}'} |"
    )


def _rest(m: dict[str, Any]) -> float | None:
    r = m.get("non_adversarial_accuracy")
    return None if r is None else float(r)


def with_slices(rows: Sequence[Any]) -> dict[str, Any]:
    m = score(rows)
    rest = [r for r in rows if "adversarial" not in r.tags and r.label in ("human", "machine")]
    m["non_adversarial_accuracy"] = (
        round(sum(r.verdict == r.label for r in rest) / len(rest), 4) if rest else None
    )
    return m


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.amd", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validated figures")
    args = ap.parse_args(argv)
    results: dict[str, Any] = {"corpus": str(args.corpus), "python": platform.python_version()}
    table = [
        "| detector | accuracy (human+machine) | humans as machine | machines as human | "
        "median decision s | p95 decision s | fax recall | SIT recall | adversarial accuracy | "
        "rest accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    if not args.no_cv:
        t0 = time.perf_counter()
        cv_rows, _ = cross_validate(load_traces(args.corpus), 5, 20251122)
        cv = with_slices(cv_rows)
        results["engine_cross_validated"] = cv
        table.append(_row("engine, cross-validated (out-of-fold)", cv))
        print(f"cross-validation: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for kind, label in (
        ("engine", "engine, in-sample (shipped model)"),
        ("asterisk", "Asterisk AMD() port, defaults"),
    ):
        _, rows, _ = evaluate_corpus(args.corpus, kind)  # type: ignore[arg-type]
        m = with_slices(rows)
        m["speed"] = speed(args.corpus, kind)
        results[kind] = m
        table.append(_row(label, m))
    sp = [
        "",
        "| detector | audio analysed (s) | CPU s | x real time (to verdict) "
        "| x real time (5 s, no stop) |",
        "|---|---|---|---|---|",
    ]
    for kind in ("engine", "asterisk"):
        s = results[kind]["speed"]
        sp.append(
            f"| {kind} | {s['audio_s_to_verdict']} | {s['cpu_s']} | {s['x_real_time']} | "
            f"{s['x_real_time_full_5s'] or '-'} |"
        )
    md = "\n".join([*table, *sp]) + "\n"
    print(md)
    print(
        json.dumps(
            {k: {h: v[h] for h in HEADLINE} for k, v in results.items() if isinstance(v, dict)}
        )
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "amd.md").write_text(
        "# AMD on the dev corpus\n\n`python -m benchmarks.amd`\n\n" + md, encoding="utf-8"
    )
    (args.out / "amd.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
