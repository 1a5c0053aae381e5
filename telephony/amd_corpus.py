"""Labelled AMD corpora on disk (``clips/`` + ``manifest.csv``, as the dev corpus) and
running a detector over a whole clip. The IO side of AMD; the detector stays pure."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dialer.errors import DialerError
from telephony.amd.asterisk_amd import AsteriskAmd
from telephony.amd.detector import AmdDetector, DetectorResult
from telephony.amd.frames import FRAME_SAMPLES, Samples

DetectorKind = Literal["engine", "asterisk"]
_REQUIRED = ("file", "label")


class BadCorpus(DialerError):  # noqa: N818 - reads as what it is
    """A corpus folder without a readable manifest; names the path and the reason."""


@dataclass(frozen=True, slots=True)
class Clip:
    name: str  # the manifest's ``file`` column (relative path)
    path: Path
    label: str
    tags: tuple[str, ...]


def load_manifest(corpus: Path) -> list[Clip]:
    """The clips listed in ``corpus/manifest.csv`` (columns ``file``, ``label`` and an
    optional ``hard_case`` with ``;``-separated tags)."""
    manifest = corpus / "manifest.csv"
    if not corpus.is_dir():
        raise BadCorpus(f"{corpus}: not a directory")
    if not manifest.is_file():
        raise BadCorpus(f"{manifest}: missing (a corpus is clips/ plus manifest.csv)")
    with manifest.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise BadCorpus(f"{manifest}: no column {', '.join(missing)}")
        clips = [
            Clip(
                row["file"],
                corpus / row["file"],
                row["label"].strip(),
                tuple(t for t in (row.get("hard_case") or "").split(";") if t),
            )
            for row in reader
        ]
    if not clips:
        raise BadCorpus(f"{manifest}: no clips listed")
    return clips


def run_detector(
    samples: Samples, kind: DetectorKind = "engine", *, chunk: int = FRAME_SAMPLES
) -> DetectorResult:
    """Stream ``samples`` through a fresh detector in ``chunk``-sample pieces (20 ms by
    default, as a call delivers them) until it decides; at the end of the audio without
    a verdict, ``finish()`` decides."""
    det: AmdDetector | AsteriskAmd = AmdDetector() if kind == "engine" else AsteriskAmd()
    for start in range(0, samples.size, chunk):
        out = det.feed(samples[start : start + chunk])
        if out is not None:
            return out
    return det.finish()
