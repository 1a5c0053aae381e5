"""Tone tracking and the tone verdicts: voicemail beep, fax (CNG/CED), SIT.

A tone frame has one spectral peak holding most of the band energy (tonality) and stands
well above the noise floor. Consecutive tone frames whose peak stays within
``FREQ_TOL_HZ`` of the run's mean form a ``ToneRun`` (one missing frame is bridged, for a
lost packet or an ANSam phase reversal). The frequency of a 20 ms Hann-windowed frame is
good to a few Hz after interpolation, enough to tell the SIT bands apart.

Reference frequencies:
- fax CNG: 1100 Hz, 0.5 s on / 3 s off; fax CED (and ANSam): 2100 Hz, 2.6-4 s
  (ITU-T T.30 and V.25/V.8);
- SIT: 913.8/985.2 Hz, then 1370.6/1428.5 Hz, then 1776.7 Hz, segments of 274 or 380 ms
  (ITU-T Q.35 / ANSI T1.401);
- voicemail record tones: a single tone of 400-2100 Hz, 0.1-1.0 s (dev corpus: 850, 950,
  1000 and 1400 Hz; "double" is two short pips).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from telephony.amd.frames import FRAME_S

FREQ_TOL_HZ = 40.0
MIN_TONALITY = 0.90
MIN_ABOVE_FLOOR_DB = 10.0
MIN_TONE_DB = -60.0
MIN_RUN_S = 0.10  # shorter runs are not reported as tones

CED_HZ = (2040.0, 2160.0)
CED_MIN_S = 1.0  # CED lasts 2.6-4 s; no voicemail beep lasts a whole second at 2100 Hz
CNG_HZ = (1050.0, 1150.0)
CNG_S = (0.35, 0.80)
SIT_BANDS = ((880.0, 1020.0), (1340.0, 1460.0), (1740.0, 1820.0))
SIT_SEG_S = (0.20, 0.45)
SIT_GAP_S = 0.10
BEEP_HZ = (380.0, 2150.0)
BEEP_MIN_S = 0.15
BEEP_MAX_S = 1.6
# A beep is a generated sine: steadier than any sung or spoken vowel. On the dev corpus the
# true beeps read mean tonality >= 0.925 and frequency spread <= 3 Hz (90 %), while the
# tone-like runs inside speech are 0.1 s long with 10-25 Hz of spread.
BEEP_MIN_TONALITY = 0.93
BEEP_MAX_FREQ_SD_HZ = 8.0


@dataclass(frozen=True, slots=True)
class ToneRun:
    """A steady tone: start and end in seconds of audio, mean frequency in Hz."""

    start: float
    end: float
    freq: float
    tonality: float = 1.0  # mean over the run
    freq_sd: float = 0.0  # standard deviation of the per-frame peak frequency, Hz

    @property
    def length(self) -> float:
        return self.end - self.start


class ToneTracker:
    """Builds tone runs frame by frame; ``runs`` holds the closed ones (>= MIN_RUN_S)."""

    __slots__ = ("_f_sq", "_f_sum", "_gap", "_k", "_n", "_start", "_t_sum", "runs")

    def __init__(self) -> None:
        self.runs: list[ToneRun] = []
        self._n = 0  # frames in the open run
        self._start = 0  # first frame index of the open run
        self._f_sum = 0.0
        self._gap = 0
        self._k = 0  # frames actually measured in the run (bridged gaps excluded)
        self._f_sq = 0.0
        self._t_sum = 0.0

    def update(
        self, i: int, tonality: float, freq: float, energy_db: float, floor_db: float
    ) -> None:
        """Feed frame ``i``'s tonality, peak frequency (Hz), energy and floor (dBFS)."""
        tonal = (
            tonality >= MIN_TONALITY
            and energy_db >= MIN_TONE_DB
            and energy_db >= floor_db + MIN_ABOVE_FLOOR_DB
        )
        if self._n and tonal and abs(freq - self._f_sum / self._n) <= FREQ_TOL_HZ:
            self._n += 1 + self._gap
            self._f_sum += freq * (1 + self._gap)
            self._gap = 0
            self._k += 1
            self._f_sq += freq * freq
            self._t_sum += tonality
            return
        if self._n and not tonal and self._gap == 0:
            self._gap = 1  # bridge one missing frame
            return
        self._close(i - self._gap)
        if tonal:
            self._n, self._start, self._f_sum = 1, i, freq
            self._k, self._f_sq, self._t_sum = 1, freq * freq, tonality

    def _close(self, end_frame: int) -> None:
        if self._n and self._n * FRAME_S >= MIN_RUN_S:
            self.runs.append(self._run())
        self._n, self._gap, self._f_sum = 0, 0, 0.0

    def _run(self) -> ToneRun:
        k = max(self._k, 1)
        mean_k = self._f_sq / k - (self._f_sum / self._n) ** 2
        return ToneRun(
            self._start * FRAME_S,
            (self._start + self._n) * FRAME_S,
            self._f_sum / self._n,
            self._t_sum / k,
            max(mean_k, 0.0) ** 0.5,
        )

    def open_run(self) -> ToneRun | None:
        """The tone still sounding (any length), or None."""
        if not self._n:
            return None
        return self._run()


def _in(f: float, band: tuple[float, float]) -> bool:
    return band[0] <= f <= band[1]


def is_ced(run: ToneRun) -> bool:
    """A fax answer tone: 2100 Hz held for at least CED_MIN_S."""
    return _in(run.freq, CED_HZ) and run.length >= CED_MIN_S


def is_cng(run: ToneRun) -> bool:
    """A calling-fax tone: 1100 Hz for about half a second."""
    return _in(run.freq, CNG_HZ) and CNG_S[0] <= run.length <= CNG_S[1]


def sit_band(run: ToneRun) -> int | None:
    """Which SIT segment (0, 1, 2) this run could be, or None."""
    if not SIT_SEG_S[0] <= run.length <= SIT_SEG_S[1]:
        return None
    for idx, band in enumerate(SIT_BANDS):
        if _in(run.freq, band):
            return idx
    return None


def is_sit(runs: list[ToneRun]) -> bool:
    """Two consecutive SIT segments in rising order, back to back (gap <= SIT_GAP_S)."""
    for a, b in itertools.pairwise(runs):
        ia, ib = sit_band(a), sit_band(b)
        if ia is not None and ib == ia + 1 and b.start - a.end <= SIT_GAP_S:
            return True
    return False


def could_start_sit(run: ToneRun) -> bool:
    """A closed run that may be the first SIT segment: wait before calling it a beep."""
    return sit_band(run) in (0, 1)


def is_beep(run: ToneRun) -> bool:
    """A voicemail record tone: one steady sine of 400-2100 Hz, 0.15-1.6 s."""
    return (
        _in(run.freq, BEEP_HZ)
        and BEEP_MIN_S <= run.length <= BEEP_MAX_S
        and run.tonality >= BEEP_MIN_TONALITY
        and run.freq_sd <= BEEP_MAX_FREQ_SD_HZ
    )
