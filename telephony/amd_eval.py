"""Evaluate a detector over a labelled corpus folder (IO: reads the clips)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from telephony.amd.metrics import Scored, score
from telephony.amd_corpus import DetectorKind, load_manifest, run_detector
from telephony.wavfile import read_wav


def evaluate_corpus(
    corpus: Path, kind: DetectorKind = "engine"
) -> tuple[dict[str, Any], list[Scored], float]:
    """Score ``kind`` on every clip of ``corpus``: (metrics, per-clip rows, seconds of
    CPU spent in the detector). Clips are streamed in 20 ms pieces as a call would."""
    rows: list[Scored] = []
    spent = 0.0
    for clip in load_manifest(corpus):
        samples = read_wav(clip.path)
        t0 = time.process_time()
        out = run_detector(samples, kind)
        spent += time.process_time() - t0
        rows.append(Scored(clip.name, clip.label, clip.tags, out.verdict.value, out.at_s))
    return score(rows), rows, spent
