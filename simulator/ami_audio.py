"""What the far end of an emulated call sounds like: labelled corpus clips.

``CallAudio(corpus_dir, seed=...)`` gives the AMI emulator audio for the AudioSocket
streams of its calls (``simulator.ami_audiosocket``). Each answered call gets one clip
of the labelled corpus (``clips/`` + ``manifest.csv``, as ``shared/data/amd-corpus/dev``)
whose label matches the call's true outcome: a person for ``HUMAN``, a machine for
``MACHINE`` (one with a beep for ``MACHINE_MESSAGE``), fax, SIT, silence for
``DEAD_AIR``. The choice is seeded (``random.Random(seed)``, one draw per call in dial
order); a ``CallScript(clip=...)`` names a clip instead.

The clip also sets what the script left open:
- ``beep_after`` (when ``WaitForSilence(1500,...)`` returns, so the machine message starts):
  the end of the manifest's beep (``beep_at_s + beep_dur_s``), or of the greeting when
  there is none, plus the 1.5 s of silence it waits for;
- the AMD() fallback's verdict, cause and delay (``amd_status``/``amd_cause``/
  ``amd_delay``): what the faithful port of app_amd (``telephony.amd.asterisk_amd``)
  says on that clip, so an unreachable AudioSocket server falls back to what Asterisk's
  AMD() would have said on the same audio.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from simulator.ami_audiosocket import StreamRecord
from simulator.ami_scripts import CallScript, Outcome
from telephony.amd.detector import DetectorResult, Verdict
from telephony.amd_corpus import run_detector
from telephony.audiosocket_server import AudioSocketSettings
from telephony.engine_amd import EngineAmd
from telephony.wavfile import read_wav

if TYPE_CHECKING:
    from simulator.ami_emulator import AmiEmulator
    from telephony.ami import AmiTelephony

# The corpus label each answered outcome plays. NO_MEDIA outcomes open the stream and
# send nothing (deadair_nomedia: the far end answers and never sends a frame).
LABELS: dict[Outcome, str] = {
    Outcome.HUMAN: "human",
    Outcome.ANSWER_HANGUP: "human",
    Outcome.MACHINE: "machine",
    Outcome.MACHINE_MESSAGE: "machine",
    Outcome.FAX: "fax",
    Outcome.SIT: "sit",
    Outcome.DEAD_AIR: "silence",
}
NO_MEDIA = frozenset({Outcome.DEAD_AIR_NOMEDIA})
WAIT_FOR_SILENCE_S = 1.5  # the dialplan's WaitForSilence(1500,1,20): 1.5 s of silence
_AMD_STATUS = {Verdict.HUMAN: "HUMAN", Verdict.MACHINE: "MACHINE"}  # anything else NOTSURE


@dataclass(frozen=True, slots=True)
class CorpusClip:
    """One manifest row: ``name`` (the ``file`` column), label, seconds of audio, and the
    end of the beep (or of the greeting) in seconds from the answer, when known."""

    name: str
    path: Path
    label: str
    duration_s: float
    beep_end_s: float | None
    greeting_end_s: float | None


def _float(row: dict[str, str], key: str) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"manifest column {key}: {text!r} is not a number") from None


class CallAudio:
    """The clips of one corpus folder, picked per call. Samples are read once per clip."""

    def __init__(self, corpus: Path | str, *, seed: int = 0) -> None:
        self.corpus = Path(corpus)
        manifest = self.corpus / "manifest.csv"
        if not manifest.is_file():
            raise ValueError(f"{manifest}: missing (a corpus is clips/ plus manifest.csv)")
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        self.clips: dict[str, CorpusClip] = {}
        for row in rows:
            name = (row.get("file") or "").strip()
            label = (row.get("label") or "").strip()
            if not name or not label:
                raise ValueError(f"{manifest}: a row without file or label: {row!r}")
            beep_at, beep_dur = _float(row, "beep_at_s"), _float(row, "beep_dur_s")
            self.clips[name] = CorpusClip(
                name,
                self.corpus / name,
                label,
                _float(row, "duration_s") or 0.0,
                None if beep_at is None else beep_at + (beep_dur or 0.0),
                _float(row, "greeting_end_s"),
            )
        if not self.clips:
            raise ValueError(f"{manifest}: no clips listed")
        self._by_label: dict[str, list[str]] = {}
        for clip in self.clips.values():
            self._by_label.setdefault(clip.label, []).append(clip.name)
        self._rng = random.Random(seed)
        self._samples: dict[str, npt.NDArray[np.int16]] = {}
        self._amd: dict[str, tuple[str, str, float]] = {}

    def clip(self, name: str) -> CorpusClip:
        """The clip ``name``: the manifest's ``file`` (``clips/dev-0017.wav``) or its stem."""
        found = self.clips.get(name) or self.clips.get(f"clips/{name}.wav")
        if found is None:
            raise ValueError(f"clip {name!r} is not in {self.corpus / 'manifest.csv'}")
        return found

    def pick(self, outcome: Outcome, *, want_beep: bool = False) -> CorpusClip | None:
        """A seeded clip for ``outcome``; ``None`` for outcomes with no media or no label."""
        label = LABELS.get(outcome)
        if label is None:
            return None
        names = self._by_label.get(label)
        if not names:
            raise ValueError(f"{self.corpus}: no clip labelled {label!r} for outcome {outcome}")
        if want_beep:
            names = [n for n in names if self.clips[n].beep_end_s is not None] or names
        return self.clips[self._rng.choice(names)]

    def samples(self, clip: CorpusClip) -> npt.NDArray[np.int16]:
        """The clip's 8 kHz int16 samples (``telephony.wavfile``: bad audio is an error)."""
        got = self._samples.get(clip.name)
        if got is None:
            got = self._samples[clip.name] = read_wav(clip.path)
        return got

    def asterisk_amd(self, clip: CorpusClip) -> tuple[str, str, float]:
        """AMD()'s (status, cause, seconds after the answer) on the clip, from the port."""
        got = self._amd.get(clip.name)
        if got is None:
            r = run_detector(self.samples(clip), "asterisk")
            got = self._amd[clip.name] = (_AMD_STATUS.get(r.verdict, "NOTSURE"), r.reason, r.at_s)
        return got

    def for_call(self, script: CallScript) -> CallScript:
        """``script`` with its clip chosen (or checked) and the timings it implies; a
        script whose outcome plays nothing comes back unchanged."""
        if script.clip is not None:
            clip: CorpusClip | None = self.clip(script.clip)
        elif script.outcome in NO_MEDIA:
            return script
        else:
            clip = self.pick(script.outcome, want_beep=script.outcome is Outcome.MACHINE_MESSAGE)
        if clip is None:
            return script
        out = replace(script, clip=clip.name)
        end = clip.beep_end_s if clip.beep_end_s is not None else clip.greeting_end_s
        if script.beep_after is None and end is not None:
            out = replace(out, beep_after=end + WAIT_FOR_SILENCE_S)
        if script.amd_status is None:
            status, cause, at = self.asterisk_amd(clip)
            out = replace(out, amd_status=status, amd_cause=cause)
            if script.amd_delay is None:
                out = replace(out, amd_delay=at)
        return out


async def engine_amd_for(emulator: AmiEmulator, telephony: AmiTelephony) -> EngineAmd:
    """Start our AudioSocket detector on a free loopback port for ``telephony`` and
    point ``emulator``'s dialplan at it (``DIALER_AS_SERVER``). Close it after the run."""
    engine = EngineAmd(telephony, AudioSocketSettings(port=0))
    await engine.start()
    emulator.set_dialplan(replace(emulator.dialplan, audiosocket_server=engine.address))
    return engine


def engine_amd_summary(
    streams: list[StreamRecord], results: dict[str, DetectorResult]
) -> dict[str, object]:
    """What our detector said over the socket against each clip's true label:
    ``streams``, ``decided``, ``by_label`` (label -> verdict -> count), the two costly
    errors (``human_as_machine``, ``machine_as_human``) and the median decision time."""
    by_label: dict[str, dict[str, int]] = {}
    times: list[float] = []
    for rec in streams:
        got = results.get(rec.as_uuid)
        if got is None or rec.label is None:
            continue
        row = by_label.setdefault(rec.label, {})
        row[str(got.verdict)] = row.get(str(got.verdict), 0) + 1
        times.append(got.at_s)
    humans = by_label.get("human", {})
    machines = by_label.get("machine", {})
    return {
        "streams": len(streams),
        "decided": len(times),
        "by_label": by_label,
        "human_as_machine": humans.get("machine", 0),
        "machine_as_human": machines.get("human", 0),
        "median_decision_s": round(float(np.median(times)), 2) if times else None,
    }
