"""The front end: frames in, per-frame timing features and tone events out.

``FrontEnd.step`` runs the VAD and the tone tracker on one frame and returns the feature
vector the model scores (``None`` until the first utterance starts) and any tone event.
The detector and the training script (benchmarks/amd_train.py) share this code, so the
model is trained on exactly the vectors the streaming detector computes.

Features (seconds unless stated), after the timing cues that tell a person ("¿Bueno?",
then a pause while they wait for an answer) from a recorded greeting (talks on):
"""

from __future__ import annotations

from telephony.amd import tones
from telephony.amd.frames import FRAME_S
from telephony.amd.vad import AdaptiveVad, VadParams

FEATURE_NAMES: tuple[str, ...] = (
    "t",  # audio analysed so far
    "onset",  # start of the first utterance
    "n_utt",  # utterances so far (count)
    "first_len",  # length of the first utterance (so far, if still speaking)
    "gap_after_first",  # silence after the first utterance (to the next one, or to now)
    "total_speech",
    "speech_ratio",  # total speech / time since onset, 0..1
    "cur_silence",  # time since the last voice frame
    "last_len",  # length of the latest utterance
    "longest",  # longest utterance
    "max_gap",  # longest silence between two utterances
    "snr_db",  # mean voice-frame level over the noise floor, dB
    "floor_rise_db",  # noise floor now minus at onset, dB (recorded-room noise ends)
    "high_ratio",  # mean share of voice energy above 1500 Hz, 0..1
    "voiced_frac",  # voice frames / frames since onset, 0..1 (inside utterances too)
    "pause_noise_db",  # mean level of non-voice frames since onset minus before it, dB
)


class ToneEvent:
    FAX = "fax"
    SIT = "sit"
    BEEP = "beep"


class FrontEnd:
    """Per-frame state of one call's audio. ``step`` takes one frame's spectral stats."""

    __slots__ = (
        "_beep_candidate",
        "_floor_at_onset",
        "_high_sum",
        "_n_runs_seen",
        "_nv_after",
        "_nv_before",
        "tones",
        "vad",
        "voice_total",
    )

    def __init__(self, vad_params: VadParams | None = None) -> None:
        self.vad = AdaptiveVad(vad_params)
        self.tones = tones.ToneTracker()
        self._floor_at_onset: float | None = None
        self._high_sum = 0.0
        self.voice_total = 0
        self._n_runs_seen = 0
        self._beep_candidate: tones.ToneRun | None = None
        # (sum, count) of the levels of non-voice frames before / since the first
        # utterance: a recorded greeting brings its room's noise, heard in its pauses.
        self._nv_before = [0.0, 0]
        self._nv_after = [0.0, 0]

    def step(
        self, energy_db: float, tonality: float, peak_hz: float, high_ratio: float
    ) -> tuple[list[float] | None, tuple[str, float] | None]:
        """Feed one frame; return (features or None, (tone event, its start s) or None)."""
        vad = self.vad
        voice = vad.update(energy_db, tonality)
        if voice:
            self._high_sum += high_ratio
            self.voice_total += 1
        floor = vad.floor_db if vad.floor_db is not None else energy_db
        if not voice and energy_db > -99.0:
            acc = self._nv_after if vad.in_utterance or vad.utterances else self._nv_before
            acc[0] += energy_db
            acc[1] += 1
        self.tones.update(vad.frame_index, tonality, peak_hz, energy_db, floor)
        event = self._tone_event(vad.now_s)
        utts = vad.all_utterances()
        if not utts:
            return None, event
        if self._floor_at_onset is None:
            self._floor_at_onset = floor
        return self._features(utts, floor), event

    def _tone_event(self, now: float) -> tuple[str, float] | None:
        tr = self.tones
        open_run = tr.open_run()
        if open_run is not None and tones.is_ced(open_run):
            return ToneEvent.FAX, open_run.start
        runs = tr.runs
        if len(runs) > self._n_runs_seen:
            new = runs[self._n_runs_seen :]
            self._n_runs_seen = len(runs)
            if tones.is_sit(runs[-3:]):
                return ToneEvent.SIT, runs[-2].start
            for run in new:
                if tones.is_cng(run) and not self.vad.all_utterances():
                    return ToneEvent.FAX, run.start
                if tones.is_beep(run):
                    # A SIT's first segment looks like a beep: wait for the next one.
                    self._beep_candidate = run
        cand = self._beep_candidate
        if cand is not None:
            if tones.could_start_sit(cand) and now - cand.end < tones.SIT_GAP_S + 2 * FRAME_S:
                return None
            if open_run is not None and open_run.start - cand.end <= tones.SIT_GAP_S:
                return None  # something follows at once: maybe a SIT; decide when it ends
            self._beep_candidate = None
            return ToneEvent.BEEP, cand.start
        return None

    def _features(self, utts: list[tuple[float, float]], floor: float) -> list[float]:
        vad = self.vad
        now = vad.now_s
        onset = utts[0][0]
        first_len = utts[0][1] - utts[0][0]
        gap_after_first = (utts[1][0] if len(utts) > 1 else now) - utts[0][1]
        total = 0.0
        longest = 0.0
        max_gap = 0.0
        prev_end = None
        for s, e in utts:
            length = e - s
            total += length
            longest = max(longest, length)
            if prev_end is not None:
                max_gap = max(max_gap, s - prev_end)
            prev_end = e
        since = max(now - onset, FRAME_S)
        cur_sil = now - (vad.last_voice_frame + 1) * FRAME_S
        snr = vad.utt_energy_sum / vad.utt_frames if vad.utt_frames else 0.0
        high = self._high_sum / self.voice_total if self.voice_total else 0.0
        rise = floor - (self._floor_at_onset if self._floor_at_onset is not None else floor)
        return [
            now,
            onset,
            float(len(utts)),
            first_len,
            gap_after_first,
            total,
            min(total / since, 1.0),
            cur_sil,
            utts[-1][1] - utts[-1][0],
            longest,
            max_gap,
            snr,
            rise,
            high,
            min(self.voice_total * FRAME_S / since, 1.0),
            self._pause_noise(),
        ]

    def _pause_noise(self) -> float:
        b, a = self._nv_before, self._nv_after
        if not a[1]:
            return 0.0
        before = b[0] / b[1] if b[1] else a[0] / a[1]
        return a[0] / a[1] - before
