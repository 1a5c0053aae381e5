"""A faithful port of Asterisk's AMD() (apps/app_amd.c, ``isAnsweringMachine``), the
baseline our detector is measured against.

Ported from the Asterisk 22 source: the state machine, the counters and their order of
updates are those of the C loop; silence is ``ast_dsp_silence`` (main/dsp.c,
``__ast_dsp_silence_noise``): a frame is silent when the integer mean of its absolute
samples is below ``silence_threshold``, and the detector sees the running length of
silence in ms (reset to 0 by any non-silent frame). Defaults are app_amd.c's (and the
issue's): initial silence 2500 ms, greeting 1500, after-greeting silence 800, total
analysis 5000, minimum word 100, between words 50, maximum number of words 2 (Asterisk
16+ tests ``iWordsCount > maximumNumberOfWords``: the third word means MACHINE, as the
captured ``MAXWORDS-3-2`` shows), silence threshold 256, maximum word length 5000.

Times are counted from the audio (frame lengths), as Asterisk does with ``iTotalTime``;
its extra wall-clock check only differs when frames stall, which offline audio cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telephony.amd.detector import DetectorResult, Verdict
from telephony.amd.frames import FrameAssembler, Samples

_SAMPLES_PER_MS = 8  # DEFAULT_SAMPLES_PER_MS at 8 kHz
_STATE_IN_WORD = 1
_STATE_IN_SILENCE = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AsteriskAmdParams:
    """app_amd.c's parameters, in ms (threshold: mean absolute sample value)."""

    initial_silence: int = 2500
    greeting: int = 1500
    after_greeting_silence: int = 800
    total_analysis_time: int = 5000
    min_word_length: int = 100
    between_words_silence: int = 50
    maximum_number_of_words: int = 2
    silence_threshold: int = 256
    maximum_word_length: int = 5000


class AsteriskAmd:
    """Streaming port of AMD(): ``feed`` samples, get a result once (HUMAN, MACHINE or
    NOT_SURE, with Asterisk's AMDCAUSE as the reason)."""

    def __init__(self, params: AsteriskAmdParams | None = None) -> None:
        self.p = params or AsteriskAmdParams()
        self._frames = FrameAssembler()
        self.in_initial_silence = True
        self.in_greeting = False
        self.voice_duration = 0
        self.silence_duration = 0
        self.total_time = 0
        self.words = 0
        self.state = _STATE_IN_WORD
        self.consecutive_voice = 0
        self.dsp_total_silence = 0  # ast_dsp's running silence, ms
        self.result: DetectorResult | None = None

    def feed(self, samples: Samples) -> DetectorResult | None:
        """Feed int16 samples (any length; analysed in 20 ms frames, as a channel
        delivers them); return the result when reached (once)."""
        if self.result is not None:
            return None
        for frame in self._frames.push(np.asarray(samples, dtype=np.int16)):
            out = self._frame(frame)
            if out is not None:
                self.result = out
                return out
        return None

    def finish(self) -> DetectorResult:
        """The audio ended first: Asterisk would still be waiting for frames; when
        they stop it times out with NOTSURE/TOOLONG."""
        if self.result is None:
            self.result = self._done(Verdict.NOT_SURE, f"TOOLONG-{self.total_time}")
        return self.result

    def _done(self, verdict: Verdict, cause: str) -> DetectorResult:
        evidence = {
            "words": float(self.words),
            "voice_ms": float(self.voice_duration),
            "silence_ms": float(self.silence_duration),
        }
        return DetectorResult(verdict, self.total_time / 1000.0, cause, evidence)

    def _frame(self, frame: Samples) -> DetectorResult | None:
        p = self.p
        n = int(frame.size)
        framelength = n // _SAMPLES_PER_MS
        self.total_time += framelength
        if self.total_time >= p.total_analysis_time:
            return self._done(Verdict.NOT_SURE, f"TOOLONG-{self.total_time}")
        # ast_dsp_silence: integer mean of |s| against the threshold.
        accum = int(np.abs(frame.astype(np.int32)).sum()) // n if n else 0
        if accum < p.silence_threshold:
            self.dsp_total_silence += n // _SAMPLES_PER_MS
            dspsilence = self.dsp_total_silence
        else:
            self.dsp_total_silence = 0
            dspsilence = 0
        if dspsilence > 0:
            self.silence_duration = dspsilence
            if self.silence_duration >= p.between_words_silence:
                self.state = _STATE_IN_SILENCE
                self.consecutive_voice = 0
            if self.in_initial_silence and self.silence_duration >= p.initial_silence:
                return self._done(
                    Verdict.MACHINE,
                    f"INITIALSILENCE-{self.silence_duration}-{p.initial_silence}",
                )
            if self.silence_duration >= p.after_greeting_silence and self.in_greeting:
                return self._done(
                    Verdict.HUMAN, f"HUMAN-{self.silence_duration}-{p.after_greeting_silence}"
                )
        else:
            self.consecutive_voice += framelength
            self.voice_duration += framelength
            if self.consecutive_voice >= p.min_word_length and self.state == _STATE_IN_SILENCE:
                self.words += 1
                self.state = _STATE_IN_WORD
            if self.consecutive_voice >= p.maximum_word_length:
                return self._done(Verdict.MACHINE, f"MAXWORDLENGTH-{self.consecutive_voice}")
            if self.words > p.maximum_number_of_words:
                return self._done(
                    Verdict.MACHINE, f"MAXWORDS-{self.words}-{p.maximum_number_of_words}"
                )
            if self.in_greeting and self.voice_duration >= p.greeting:
                return self._done(
                    Verdict.MACHINE, f"LONGGREETING-{self.voice_duration}-{p.greeting}"
                )
            if self.voice_duration >= p.min_word_length:
                self.silence_duration = 0
            if self.consecutive_voice >= p.min_word_length and not self.in_greeting:
                self.in_initial_silence = False
                self.in_greeting = True
        return None
