"""``dialer amd``: classify WAV files and evaluate a detector on a labelled corpus.

    dialer amd classify FILE.wav... [--detector engine|asterisk]
    dialer amd evaluate CORPUS_DIR [--detector engine|asterisk] [--json]

Audio must be 8 kHz mono 16-bit PCM WAV. A file that is not (or is missing, or empty)
gets a message on stderr naming it and the reason, and no verdict; the exit status is 2.
``evaluate --json`` prints exactly one JSON object with the keys ``accuracy``,
``human_as_machine_rate``, ``machine_as_human_rate``, ``median_decision_s``,
``p95_decision_s``, ``per_label``, ``per_tag``, ``n`` (telephony/amd/metrics.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from telephony.amd_corpus import BadCorpus, DetectorKind, run_detector
from telephony.amd_eval import evaluate_corpus
from telephony.wavfile import BadAudio, read_wav

EXIT_USAGE = 2
DETECTORS = ("engine", "asterisk")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    amd = sub.add_parser("amd", help="answering-machine detection: classify audio, evaluate")
    amd_sub = amd.add_subparsers(dest="amd_command", required=True)
    c = amd_sub.add_parser("classify", help="print each WAV file's verdict and its time")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE.wav")
    c.add_argument("--detector", choices=DETECTORS, default="engine")
    c.set_defaults(handler=_classify)
    e = amd_sub.add_parser("evaluate", help="score a detector on a labelled corpus folder")
    e.add_argument("corpus", type=Path, metavar="CORPUS_DIR", help="clips/ + manifest.csv")
    e.add_argument("--detector", choices=DETECTORS, default="engine")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(handler=_evaluate)


def _err(message: object) -> None:
    print(f"dialer amd: error: {message}", file=sys.stderr)


def _classify(args: argparse.Namespace) -> int:
    kind: DetectorKind = args.detector
    status = 0
    for path in args.files:
        try:
            samples = read_wav(path)
        except BadAudio as exc:
            _err(exc)
            status = EXIT_USAGE
            continue
        out = run_detector(samples, kind)
        beep = f"  beep at {out.beep_at_s:.2f} s" if out.beep_at_s is not None else ""
        print(f"{path}\t{out.verdict.value}\tat {out.at_s:.2f} s\t({out.reason}){beep}")
    return status


def _evaluate(args: argparse.Namespace) -> int:
    kind: DetectorKind = args.detector
    try:
        metrics, _, _ = evaluate_corpus(args.corpus, kind)
    except (BadCorpus, BadAudio) as exc:
        _err(exc)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(metrics, indent=1))
        return 0
    print(render_text(metrics, kind))
    return 0


def render_text(m: dict[str, Any], kind: str) -> str:
    lines = [
        f"detector: {kind}   clips: {m['n']}",
        f"accuracy on human+machine: {m['accuracy']:.1%}",
        f"humans classified as machine: {m['human_as_machine_rate']:.1%}",
        f"machines classified as human: {m['machine_as_human_rate']:.1%}",
        f"decision time: median {m['median_decision_s']:.2f} s, p95 {m['p95_decision_s']:.2f} s",
        "per label (recall; verdicts):",
    ]
    for label, d in m["per_label"].items():
        verdicts = ", ".join(f"{k} {v}" for k, v in d["verdicts"].items())
        lines.append(f"  {label:<8} n={d['n']:<4} recall {d['recall']:.1%}   {verdicts}")
    lines.append("per hard-case tag (accuracy on its human+machine clips):")
    for tag, d in m["per_tag"].items():
        acc = "-" if d["accuracy"] is None else f"{d['accuracy']:.1%}"
        lines.append(
            f"  {tag:<20} n={d['n']:<4} accuracy {acc:>6}   "
            f"humans as machine {d['human_as_machine']}"
        )
    return "\n".join(lines)
