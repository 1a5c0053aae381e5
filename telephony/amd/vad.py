"""Per-frame analysis and a voice-activity detector with an adaptive noise floor.

Asterisk's AMD() calls a 20 ms frame "voice" when its mean absolute sample reaches a
fixed 256, so quiet callees are never heard and loud line noise is always "talk". Here a
frame is voice when its band energy (250-3500 Hz, the telephone speech band) stands a
margin above a noise floor that follows the line: it drops at once to a quieter frame and
creeps up slowly (a minimum tracker, as in Martin's minimum-statistics noise estimate,
simplified to one state variable). Tonal frames (one spectral peak holding most of the
band energy: beeps, fax and SIT tones) are never voice; the tone detectors own them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from telephony.amd.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE

_WINDOW = np.hanning(FRAME_SAMPLES)
_WINDOW_POWER = float(np.sum(_WINDOW**2))
_BIN_HZ = SAMPLE_RATE / FRAME_SAMPLES  # 50 Hz per FFT bin
_LO_BIN = 5  # 250 Hz
_HI_BIN = 71  # 3550 Hz (exclusive)
_SCALE = 1.0 / 32768.0
_FLOOR_DB = -100.0  # digital silence reads as this, not -inf
_STATIONARY_FRAMES = 10  # 200 ms


@dataclass(frozen=True, slots=True)
class FrameStats:
    """Per-frame spectral summaries of a block of 20 ms frames, as plain float lists.

    ``energy_db``: band energy (250-3550 Hz) in dBFS; ``tonality``: share of the band
    energy in the strongest peak's 5 bins, 0..1 (a pure tone reads about 0.99, speech
    well under 0.9); ``peak_hz``: that peak's frequency (quadratic interpolation, a few
    Hz); ``high_ratio``: share of band energy above 1500 Hz, 0..1.
    """

    energy_db: list[float]
    tonality: list[float]
    peak_hz: list[float]
    high_ratio: list[float]


def analyse_frames(block: npt.NDArray[np.int16]) -> FrameStats:
    """Spectral summary of ``block`` (shape ``(n, 160)``), one FFT call for all frames:
    numpy's per-call overhead is paid once per block, not once per frame."""
    x = block.astype(np.float64) * _SCALE
    spec = np.abs(np.fft.rfft(x * _WINDOW, axis=1)) ** 2
    band = spec[:, _LO_BIN:_HI_BIN]
    total = band.sum(axis=1)
    safe = np.maximum(total, 1e-14)
    k = np.argmax(band, axis=1)
    csum = np.concatenate((np.zeros((band.shape[0], 1)), np.cumsum(band, axis=1)), axis=1)
    rows = np.arange(band.shape[0])
    lo = np.maximum(k - 2, 0)
    hi = np.minimum(k + 3, band.shape[1])
    tonality = (csum[rows, hi] - csum[rows, lo]) / safe
    # Quadratic interpolation of the log spectrum around the peak bin.
    kc = np.clip(k, 1, band.shape[1] - 2)
    lb = np.log(band + 1e-20)
    a, b, c = lb[rows, kc - 1], lb[rows, kc], lb[rows, kc + 1]
    den = a - 2.0 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    peak_hz = (kc + _LO_BIN + delta) * _BIN_HZ
    high = (csum[:, -1] - csum[:, 30 - _LO_BIN]) / safe
    energy_db = 10.0 * np.log10(total / _WINDOW_POWER * 2.0 + 1e-10)
    silent = total <= 1e-14
    energy_db = np.where(silent, _FLOOR_DB, np.maximum(energy_db, _FLOOR_DB))
    tonality = np.where(silent, 0.0, tonality)
    return FrameStats(
        energy_db.tolist(),
        tonality.tolist(),
        peak_hz.tolist(),
        np.where(silent, 0.0, high).tolist(),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VadParams:
    """dB and seconds. ``margin_db``: how far above the floor a frame must be to be voice;
    ``abs_min_db``: below this nothing is voice (line hiss of a silent call);
    ``rise_db_per_s``: how fast the floor may climb; ``tonal``: tonality above which a
    frame is a tone, not voice; ``start_frames``/``end_s``: an utterance starts after this
    many voice frames in a row and ends after this much non-voice."""

    margin_db: float = 9.0
    abs_min_db: float = -62.0
    rise_db_per_s: float = 3.0
    tonal: float = 0.92
    start_frames: int = 3
    end_s: float = 0.30
    stationary_db: float = 6.0
    catch_up: float = 0.3


class AdaptiveVad:
    """Streaming VAD: ``update(stats)`` per frame returns whether the frame is voice and
    keeps the utterance segmentation (start, end in seconds of audio)."""

    __slots__ = (
        "_end_frames",
        "_p",
        "_recent",
        "_rise",
        "floor_db",
        "frame_index",
        "in_utterance",
        "last_voice_frame",
        "run",
        "silence_run",
        "utt_energy_sum",
        "utt_frames",
        "utt_start_frame",
        "utterances",
        "voice_frames",
    )

    def __init__(self, params: VadParams | None = None) -> None:
        self._p = params or VadParams()
        self._rise = self._p.rise_db_per_s * FRAME_S
        self._end_frames = max(1, round(self._p.end_s / FRAME_S))
        self.floor_db: float | None = None
        self._recent: list[float] = []
        self.frame_index = -1
        self.run = 0  # consecutive voice frames
        self.silence_run = 0  # consecutive non-voice frames
        self.in_utterance = False
        self.utt_start_frame = 0
        self.last_voice_frame = -1
        self.voice_frames = 0  # voice frames inside utterances, total
        self.utt_energy_sum = 0.0  # sum of (energy - floor) over voice frames, dB
        self.utt_frames = 0
        self.utterances: list[tuple[float, float]] = []  # closed utterances (s)

    def update(self, e: float, tonality: float) -> bool:
        """Feed one frame's band energy (dBFS) and tonality; return True for voice."""
        self.frame_index += 1
        if e <= _FLOOR_DB + 1.0:
            # Digital zero: a lost packet filled with zeros (or a muted line) says
            # nothing about the noise floor, so it must not drag the floor down.
            return self._mark(False)
        is_tone = tonality >= self._p.tonal and e > self._p.abs_min_db
        recent = self._recent
        recent.append(e)
        if len(recent) > _STATIONARY_FRAMES:
            recent.pop(0)
        # The floor drops to the second-lowest of the last 5 frames: one odd quiet
        # frame (a codec glitch) does not pull it down alone.
        low = sorted(recent[-5:])[1] if len(recent) >= 5 else min(recent)
        if self.floor_db is None or low < self.floor_db:
            self.floor_db = low
        elif not is_tone:
            if (
                len(recent) == _STATIONARY_FRAMES
                and max(recent) - min(recent) <= self._p.stationary_db
            ):
                # A steady level for 200 ms is noise, not speech (syllables modulate the
                # level at 3-8 Hz): let the floor catch up fast, e.g. the room noise that
                # starts when a person picks up.
                self.floor_db += self._p.catch_up * (min(recent) - self.floor_db)
            self.floor_db = min(self.floor_db + self._rise, max(e, self.floor_db))
        voice = not is_tone and e >= self.floor_db + self._p.margin_db and e >= self._p.abs_min_db
        if voice:
            self.utt_energy_sum += e - self.floor_db
            self.utt_frames += 1
        return self._mark(voice)

    def _mark(self, voice: bool) -> bool:
        """Advance the utterance segmentation by one frame."""
        i = self.frame_index
        if voice:
            self.run += 1
            self.silence_run = 0
            self.last_voice_frame = i
            if not self.in_utterance and self.run >= self._p.start_frames:
                self.in_utterance = True
                self.utt_start_frame = i - self.run + 1
                self.voice_frames += self.run
            elif self.in_utterance:
                self.voice_frames += 1
        else:
            self.run = 0
            self.silence_run += 1
            if self.in_utterance and self.silence_run >= self._end_frames:
                self.in_utterance = False
                self.utterances.append(
                    (self.utt_start_frame * FRAME_S, (self.last_voice_frame + 1) * FRAME_S)
                )
        return voice

    @property
    def now_s(self) -> float:
        """Seconds of audio analysed so far (end of the last frame)."""
        return (self.frame_index + 1) * FRAME_S

    def all_utterances(self) -> list[tuple[float, float]]:
        """Closed utterances plus the open one (ending at its last voice frame)."""
        if self.in_utterance:
            return [
                *self.utterances,
                (self.utt_start_frame * FRAME_S, (self.last_voice_frame + 1) * FRAME_S),
            ]
        return list(self.utterances)
