"""The streaming answering-machine detector.

Feed it the callee's audio as it arrives (8 kHz mono 16-bit PCM, any chunk length);
``feed`` returns a ``DetectorResult`` once a verdict is reached and ``None`` before.
Times are seconds of audio since the answer (the first sample fed).

Decision rules (``decide``, shared with the training script so the shipped policy is the
one that was measured):
1. tones first: fax (CED 2100 Hz held 1 s, or CNG 1100 Hz before anyone speaks), SIT
   (two tri-tone segments back to back), a voicemail beep -> machine, with the beep time;
2. a person as soon as they spoke and then paused ``human_pause_s`` while the model says
   "person" (asymmetric: quick for people, who must reach an agent within the 2 s the
   abandon rules allow, and a machine only when the model is confident); never while a
   steady tone is sounding (a beep after a short greeting: the "pause" is the beep);
3. at ``limit_s`` of audio: decide on what was heard, or "not sure", or "silence".

After a machine verdict the detector keeps listening for the beep if fed
(``beep_at_s``), so a message can be left after it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from telephony.amd.features import FEATURE_NAMES, FrontEnd, ToneEvent
from telephony.amd.frames import FRAME_S, FrameAssembler, Samples, pcm_to_samples
from telephony.amd.model import PolicyParams, TreeModel, load_shipped
from telephony.amd.vad import analyse_frames
from telephony.events import AmdVerdict

_CUR_SILENCE = FEATURE_NAMES.index("cur_silence")
_TOTAL_SPEECH = FEATURE_NAMES.index("total_speech")


class Verdict(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    FAX = "fax"
    SIT = "sit"
    SILENCE = "silence"  # nothing but line noise until the analysis limit
    NOT_SURE = "not_sure"


def to_amd_verdict(v: Verdict) -> AmdVerdict:
    """The engine's verdict. Silence (dead air) maps to NOT_SURE: the campaign's
    ``not_sure_as_human`` policy decides, as for Asterisk's NOTSURE."""
    return {
        Verdict.HUMAN: AmdVerdict.HUMAN,
        Verdict.MACHINE: AmdVerdict.MACHINE,
        Verdict.FAX: AmdVerdict.FAX,
        Verdict.SIT: AmdVerdict.SIT,
        Verdict.SILENCE: AmdVerdict.NOT_SURE,
        Verdict.NOT_SURE: AmdVerdict.NOT_SURE,
    }[v]


@dataclass(frozen=True, slots=True)
class DetectorResult:
    """A verdict, when it was reached (seconds of audio since the answer), why (a short
    reason), the evidence (feature name -> value; plus ``p_machine``), and for a machine
    the start of the beep in seconds when one was heard before the verdict."""

    verdict: Verdict
    at_s: float
    reason: str
    evidence: dict[str, float] = field(default_factory=dict)
    beep_at_s: float | None = None

    @property
    def amd_verdict(self) -> AmdVerdict:
        return to_amd_verdict(self.verdict)


def decide(
    feats: list[float] | None,
    p: float | None,
    event: tuple[str, float] | None,
    now: float,
    params: PolicyParams,
    *,
    tone_sounding: bool = False,
) -> tuple[Verdict, str] | None:
    """One frame's decision: ``feats`` and ``p`` (probability of not a person) are None
    until speech is heard; ``event`` is a tone event; ``now`` in seconds of audio;
    ``tone_sounding``: a steady tone is still going (no person verdict: it may be the
    beep after a short greeting, reported when it ends)."""
    if event is not None:
        kind = event[0]
        if kind == ToneEvent.FAX:
            return Verdict.FAX, "fax tone"
        if kind == ToneEvent.SIT:
            return Verdict.SIT, "special information tones"
        return Verdict.MACHINE, "beep"
    if feats is not None and p is not None:
        if p >= params.machine_min_p and feats[_TOTAL_SPEECH] >= params.machine_min_speech_s:
            return Verdict.MACHINE, "model"
        pause = feats[_CUR_SILENCE]
        if not tone_sounding and (
            (pause >= params.human_pause_s and p <= params.human_max_p)
            or (pause >= params.human_late_pause_s and p <= params.human_late_max_p)
        ):
            return Verdict.HUMAN, "utterance then pause"
    if now >= params.limit_s - 1e-9:
        if feats is None or p is None:
            return Verdict.SILENCE, "nothing heard"
        if p >= params.limit_machine_p:
            return Verdict.MACHINE, "analysis limit"
        if p <= params.limit_human_p:
            return Verdict.HUMAN, "analysis limit"
        return Verdict.NOT_SURE, "analysis limit"
    return None


_SHIPPED: tuple[TreeModel, PolicyParams] | None = None


def _shipped() -> tuple[TreeModel, PolicyParams]:
    global _SHIPPED  # noqa: PLW0603 - read-only cache of the packaged weights
    if _SHIPPED is None:
        _SHIPPED = load_shipped()
    return _SHIPPED


class AmdDetector:
    """One call's detector. Not thread-safe; one instance per call."""

    def __init__(
        self, *, model: TreeModel | None = None, policy: PolicyParams | None = None
    ) -> None:
        if model is None or policy is None:
            shipped_model, shipped_policy = _shipped()
            model = model or shipped_model
            policy = policy or shipped_policy
        self.model = model
        self.policy = policy
        self._frames = FrameAssembler()
        self._front = FrontEnd()
        self._last_feats: list[float] | None = None
        self._last_p: float | None = None
        self.result: DetectorResult | None = None
        self.beep_at_s: float | None = None

    @property
    def analysed_s(self) -> float:
        """Seconds of audio analysed so far."""
        return self._front.vad.now_s

    def feed_pcm(self, data: bytes) -> DetectorResult | None:
        """Feed little-endian 16-bit PCM bytes (any even length)."""
        return self.feed(pcm_to_samples(data))

    def feed(self, samples: Samples) -> DetectorResult | None:
        """Feed int16 samples; return the verdict when it is reached by these samples
        (once), else None. After the verdict, samples only serve the beep search."""
        frames = self._frames.push(np.asarray(samples, dtype=np.int16))
        if not frames:
            return None
        block = np.stack(frames)
        st = analyse_frames(block)
        front = self._front
        pol = self.policy
        min_pause = min(pol.human_pause_s, pol.human_late_pause_s)
        reached: DetectorResult | None = None
        for i in range(block.shape[0]):
            feats, event = front.step(
                st.energy_db[i], st.tonality[i], st.peak_hz[i], st.high_ratio[i]
            )
            if event is not None and event[0] == ToneEvent.BEEP and self.beep_at_s is None:
                self.beep_at_s = event[1]
            if self.result is not None:
                continue  # verdict given: only the beep search goes on
            now = front.vad.now_s
            p = None
            # The model is only consulted when a rule could use it (speed: most frames
            # before the first pause cannot decide anything).
            if feats is not None and (
                feats[_TOTAL_SPEECH] >= pol.machine_min_speech_s
                or feats[_CUR_SILENCE] >= min_pause
                or now >= pol.limit_s - 1e-9
            ):
                p = self.model.probability(feats)
            self._last_feats, self._last_p = feats, p
            decision = decide(feats, p, event, now, pol, tone_sounding=front.tone_sounding)
            if decision is not None:
                self.result = reached = self._result(*decision)
        return reached

    def finish(self) -> DetectorResult:
        """The audio ended (file end) before a verdict: decide on what was heard, as at
        the analysis limit. Returns the existing verdict if there is one."""
        if self.result is not None:
            return self.result
        limit = dataclasses.replace(self.policy, limit_s=max(self.analysed_s, FRAME_S))
        feats, p = self._last_feats, self._last_p
        if feats is not None and p is None:
            p = self._last_p = self.model.probability(feats)
        decision = decide(feats, p, None, limit.limit_s, limit)
        assert decision is not None  # at the limit decide() always answers
        self.result = self._result(*decision)
        return self.result

    def _result(self, verdict: Verdict, reason: str) -> DetectorResult:
        evidence: dict[str, float] = {}
        if self._last_feats is not None:
            evidence = dict(zip(FEATURE_NAMES, self._last_feats, strict=True))
            p = self._last_p
            evidence["p_machine"] = p if p is not None else self.model.probability(self._last_feats)
        beep = self.beep_at_s if verdict is Verdict.MACHINE else None
        return DetectorResult(verdict, round(self.analysed_s, 3), reason, evidence, beep)
