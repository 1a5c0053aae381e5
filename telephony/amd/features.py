"""The front end: frames in, per-frame timing features and tone events out.

``FrontEnd.step`` runs the VAD and the tone tracker on one frame and returns the feature
vector the model scores (``None`` until the first utterance starts) and any tone event.
The detector and the training script (benchmarks/amd_train.py) share this code, so the
model is trained on exactly the vectors the streaming detector computes.

Features (seconds unless stated), after the timing cues that tell a person ("¿Bueno?",
then a pause while they wait for an answer) from a recorded greeting (talks on):
"""

from __future__ import annotations

from bisect import insort

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
    "pause_step_db",  # median background level in pauses since onset minus before it, dB
    "pause_tilt_step",  # same for the background's share above 1500 Hz, -1..1
)
# Background frames heard in a pause only count once the speech has died away (its tail
# and the room's reverberation), so that the pause median measures the background.
_TAIL_FRAMES = 5  # 100 ms
_MIN_BG_FRAMES = 3


class ToneEvent:
    FAX = "fax"
    SIT = "sit"
    BEEP = "beep"


class FrontEnd:
    """Per-frame state of one call's audio. ``step`` takes one frame's spectral stats."""

    __slots__ = (
        "_beep_candidate",
        "_bg_pause",
        "_bg_pre",
        "_floor_at_onset",
        "_high_sum",
        "_n_runs_seen",
        "_nv_after",
        "_nv_before",
        "_tilt_pause",
        "_tilt_pre",
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
        # Sorted levels (dBFS) and >1500 Hz shares of background frames before the first
        # utterance and in the pauses after it, for robust medians: a greeting played
        # from a recording brings the noise of its room (it starts with the greeting and
        # ends with it), a person's room noise was there before they spoke and goes on
        # (corpus README, "How it was made"). Medians, not means: a pick-up rustle before
        # a person speaks must not read as "the noise changed".
        self._bg_pre: list[float] = []
        self._bg_pause: list[float] = []
        self._tilt_pre: list[float] = []
        self._tilt_pause: list[float] = []

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
            if tonality < tones.MIN_TONALITY:  # beeps and other tones are no background
                if acc is self._nv_before:
                    insort(self._bg_pre, energy_db)
                    insort(self._tilt_pre, high_ratio)
                elif vad.frame_index - vad.last_voice_frame > _TAIL_FRAMES:
                    insort(self._bg_pause, energy_db)
                    insort(self._tilt_pause, high_ratio)
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
            *self._background_step(),
        ]

    def _pause_noise(self) -> float:
        b, a = self._nv_before, self._nv_after
        if not a[1]:
            return 0.0
        before = b[0] / b[1] if b[1] else a[0] / a[1]
        return a[0] / a[1] - before

    def _background_step(self) -> tuple[float, float]:
        """Median level (dB) and >1500 Hz share of the background in the pauses since
        the first utterance minus before it; 0 until both have a few frames."""
        pre, pause = self._bg_pre, self._bg_pause
        if len(pre) < _MIN_BG_FRAMES or len(pause) < _MIN_BG_FRAMES:
            return 0.0, 0.0
        tp, tq = self._tilt_pre, self._tilt_pause
        return (
            pause[len(pause) // 2] - pre[len(pre) // 2],
            tq[len(tq) // 2] - tp[len(tp) // 2],
        )

    @property
    def tone_sounding(self) -> bool:
        """A steady tone has been sounding for at least 60 ms and goes on (maybe a
        voicemail beep that will be reported when it ends): no "person" verdict yet."""
        if self._beep_candidate is not None:
            return True
        run = self.tones.open_run()
        return run is not None and run.length >= 3 * FRAME_S
