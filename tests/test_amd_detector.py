"""The AMD detector (pure), its tone rules, the Asterisk AMD() port, and WAV input."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from benchmarks.amd_train import (
    cost,
    policies,
    policy_costs,
    probabilities,
    scored,
    simulate,
    trace_clip,
)
from telephony.amd.asterisk_amd import AsteriskAmd
from telephony.amd.detector import AmdDetector, Verdict, decide, to_amd_verdict
from telephony.amd.features import FEATURE_NAMES, FrontEnd
from telephony.amd.frames import FrameAssembler, PcmFormatError, pcm_to_samples
from telephony.amd.model import PolicyParams, TreeModel, load_shipped
from telephony.amd.vad import analyse_frames
from telephony.amd_corpus import load_manifest, run_detector
from telephony.events import AmdVerdict
from telephony.wavfile import BadAudio, read_wav
from tests.test_purity import forbidden_chains

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "amd-corpus" / "dev"
RATE = 8000


def tone(freq: float, seconds: float, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def quiet(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 20, int(seconds * RATE)).astype(np.int16)


@pytest.mark.parametrize("path", sorted((ROOT / "telephony" / "amd").glob("*.py")), ids=str)
def test_the_detector_package_imports_no_io(path: Path) -> None:
    assert forbidden_chains(path) == []


def test_frames_are_cut_the_same_whatever_the_chunking() -> None:
    x = np.arange(1000, dtype=np.int16)
    fa = FrameAssembler()
    frames = fa.push(x[:7]) + fa.push(x[7:333]) + fa.push(x[333:])
    assert [f.size for f in frames] == [160] * 6 and fa.pending_samples == 40
    assert np.array_equal(np.concatenate(frames), x[:960])
    with pytest.raises(PcmFormatError, match="even"):
        pcm_to_samples(b"\x00\x01\x02")


def test_fax_ced_is_recognised() -> None:
    x = np.concatenate([quiet(0.3), tone(2100, 3.0)])
    out = run_detector(x)
    assert out.verdict == Verdict.FAX and out.at_s < 1.5


def test_fax_cng_is_recognised() -> None:
    x = np.concatenate([quiet(0.5), tone(1100, 0.5), quiet(3.0)])
    assert run_detector(x).verdict == Verdict.FAX


def test_sit_tri_tone_is_recognised() -> None:
    x = np.concatenate(
        [quiet(0.2), tone(913.8, 0.274), tone(1370.6, 0.274), tone(1776.7, 0.38), quiet(2.0)]
    )
    out = run_detector(x)
    assert out.verdict == Verdict.SIT and out.at_s < 1.2


def test_dead_air_is_silence_at_the_limit() -> None:
    out = run_detector(quiet(8.0))
    assert out.verdict == Verdict.SILENCE and out.at_s == pytest.approx(5.0)
    assert to_amd_verdict(out.verdict) is AmdVerdict.NOT_SURE


def test_digital_silence_is_silence_too() -> None:
    assert run_detector(np.zeros(8 * RATE, dtype=np.int16)).verdict == Verdict.SILENCE


def test_verdict_does_not_depend_on_chunk_size() -> None:
    x = read_wav(DEV / "clips" / "dev-0004.wav")
    outs = [run_detector(x, chunk=n) for n in (160, 37, 320, 4000)]
    assert len({(o.verdict, o.at_s) for o in outs}) == 1


def test_result_carries_evidence_and_time() -> None:
    out = run_detector(read_wav(DEV / "clips" / "dev-0004.wav"))
    assert 0 < out.at_s <= 5.0
    assert set(FEATURE_NAMES) <= set(out.evidence) and "p_machine" in out.evidence


def test_machine_beep_time_is_reported_after_the_verdict() -> None:
    det = AmdDetector()
    greeting = (np.random.default_rng(3).normal(0, 600, 6 * RATE)).astype(np.int16)
    x = np.concatenate([quiet(0.3), greeting, tone(1000, 0.5), quiet(1.0)])
    for i in range(0, x.size, 160):
        det.feed(x[i : i + 160])
    assert det.beep_at_s == pytest.approx(6.3, abs=0.05)


def test_shipped_model_loads_and_matches_the_features() -> None:
    model, policy = load_shipped()
    assert model.feature_names == FEATURE_NAMES and policy.limit_s == 5.0
    data = json.loads((ROOT / "telephony" / "amd" / "amd_model.json").read_text())
    assert data["trained_by"] == "python -m benchmarks.amd_train"
    assert 0.0 <= model.probability([0.0] * len(FEATURE_NAMES)) <= 1.0


def test_model_and_policy_validate() -> None:
    with pytest.raises(ValueError, match="retrain"):
        TreeModel(bias=0, trees=[], feature_names=("x",))
    with pytest.raises(ValueError, match="machine_min_p"):
        PolicyParams(machine_min_p=1.5)


def test_asterisk_port_defaults_reproduce_the_captured_causes() -> None:
    # Dead air: MACHINE/INITIALSILENCE-2500-2500 (transcript deadair).
    out = AsteriskAmd().feed(np.zeros(4 * RATE, dtype=np.int16))
    assert out is not None and out.verdict == Verdict.MACHINE
    assert out.reason == "INITIALSILENCE-2500-2500"
    # A short word then silence: HUMAN-800-800.
    word = tone(300, 0.5, amp=3000)
    x = np.concatenate([np.zeros(RATE // 2, dtype=np.int16), word, np.zeros(2 * RATE, np.int16)])
    amd = AsteriskAmd()
    out = amd.feed(x)
    assert out is not None and out.verdict == Verdict.HUMAN and out.reason == "HUMAN-800-800"
    assert out.at_s == pytest.approx(1.8)
    # Three words: MAXWORDS-3-2.
    gap = np.zeros(RATE // 5, dtype=np.int16)
    x = np.concatenate([gap, *([tone(300, 0.2, amp=3000), gap] * 3)])
    out = AsteriskAmd().feed(x)
    assert out is not None and out.reason == "MAXWORDS-3-2"


def test_asterisk_port_gives_up_at_total_analysis_time() -> None:
    x = np.concatenate([tone(300, 0.12, amp=3000), np.zeros(RATE // 10, np.int16)] * 30)
    amd = AsteriskAmd()
    out = amd.feed(x) or amd.finish()
    assert out.verdict in (Verdict.NOT_SURE, Verdict.MACHINE)


def _write_wav(path: Path, rate: int, channels: int, width: int, frames: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setframerate(rate)
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.writeframes(frames)
    return path


def test_bad_audio_is_named(tmp_path: Path) -> None:
    cases = {
        "rate": (_write_wav(tmp_path / "a.wav", 16000, 1, 2, bytes(3200)), "16000 Hz"),
        "stereo": (_write_wav(tmp_path / "b.wav", 8000, 2, 2, bytes(3200)), "mono"),
        "8bit": (_write_wav(tmp_path / "c.wav", 8000, 1, 1, bytes(3200)), "16-bit"),
        "empty": (_write_wav(tmp_path / "d.wav", 8000, 1, 2, b""), "shorter than one"),
    }
    (tmp_path / "e.wav").write_text("not audio")
    cases["text"] = (tmp_path / "e.wav", "not a PCM WAV")
    cases["missing"] = (tmp_path / "nope.wav", "no such file")
    for path, reason in cases.values():
        with pytest.raises(BadAudio, match=reason) as info:
            read_wav(path)
        assert str(path) in str(info.value)


def test_manifest_is_read() -> None:
    clips = load_manifest(DEV)
    assert len(clips) == 420 and {c.label for c in clips} >= {"human", "machine", "fax", "sit"}


def test_training_simulation_equals_the_streaming_detector() -> None:
    """The cross-validated figures come from ``simulate`` (benchmarks/amd_train.py): it
    must give exactly the verdict and time of the streaming detector."""
    model, policy = load_shipped()
    clips = load_manifest(DEV)[::14]  # 30 clips across labels
    traces = [trace_clip(c) for c in clips]
    for t, p in zip(traces, probabilities(model, traces), strict=True):
        verdict, at = simulate(t, p, policy)
        out = run_detector(read_wav(t.clip.path))
        assert (verdict, round(at, 2)) == (out.verdict.value, round(out.at_s, 2)), t.clip.name


def test_simulation_equals_the_detector_where_a_beep_follows_a_short_greeting() -> None:
    """The tone hold (no person verdict while a beep may be sounding) is simulated too:
    the short greetings are where it decides."""
    model, policy = load_shipped()
    clips = [c for c in load_manifest(DEV) if "short_greeting" in c.tags]
    traces = [trace_clip(c) for c in clips]
    assert any(t.hold.any() for t in traces)
    for t, p in zip(traces, probabilities(model, traces), strict=True):
        verdict, at = simulate(t, p, policy)
        out = run_detector(read_wav(t.clip.path))
        assert (verdict, round(at, 2)) == (out.verdict.value, round(out.at_s, 2)), t.clip.name


def test_vectorised_policy_search_costs_what_simulate_costs() -> None:
    """``tune`` scores the whole grid at once (``policy_costs``); each cost must be the one
    the per-clip ``simulate`` loop gives, so the search chooses the same policy."""
    model, _ = load_shipped()
    clips = [c for c in load_manifest(DEV)[::6]] + [
        c for c in load_manifest(DEV) if "short_greeting" in c.tags
    ][:6]
    traces = [trace_clip(c) for c in clips]
    probs = probabilities(model, traces)
    pols = policies()
    fast = policy_costs(traces, probs, pols)
    for k in range(0, len(pols), 97):
        assert fast[k] == pytest.approx(cost(scored(traces, probs, pols[k])), abs=1e-9)


def test_no_person_verdict_while_a_tone_sounds() -> None:
    policy = PolicyParams(human_pause_s=0.3, human_max_p=0.2)
    feats = [0.0] * len(FEATURE_NAMES)
    feats[FEATURE_NAMES.index("cur_silence")] = 0.4
    feats[FEATURE_NAMES.index("total_speech")] = 0.5
    assert decide(feats, 0.1, None, 1.5, policy) == (Verdict.HUMAN, "utterance then pause")
    assert decide(feats, 0.1, None, 1.5, policy, tone_sounding=True) is None


def _front_end_over(x: np.ndarray) -> tuple[FrontEnd, list[float] | None, list[bool]]:
    n = x.size // 160
    st = analyse_frames(x[: n * 160].reshape(n, 160))
    front = FrontEnd()
    feats, sounding = None, []
    for i in range(n):
        feats, _ = front.step(st.energy_db[i], st.tonality[i], st.peak_hz[i], st.high_ratio[i])
        sounding.append(front.tone_sounding)
    return front, feats, sounding


def _speech_like(seconds: float, seed: int) -> np.ndarray:
    """Noise modulated at 4 Hz, like syllables (the VAD calls it voice)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * np.arange(n) / RATE)
    return (rng.normal(0, 2500, n) * env).astype(np.int16)


def test_background_step_reads_room_noise_that_came_with_the_speech() -> None:
    rng = np.random.default_rng(5)
    line = rng.normal(0, 30, int(0.6 * RATE))
    # A greeting recorded in a noisier room: 12 dB more background in its pause.
    room = rng.normal(0, 120, int(1.0 * RATE))
    x = np.concatenate([line, _speech_like(0.6, 6), room]).astype(np.int16)
    feats = _front_end_over(x)[1]
    assert feats is not None
    assert feats[FEATURE_NAMES.index("pause_step_db")] == pytest.approx(12.0, abs=1.5)
    # A person's room noise was there before they spoke and goes on: no step.
    same = np.concatenate([line, _speech_like(0.6, 6), rng.normal(0, 30, RATE)])
    feats = _front_end_over(same.astype(np.int16))[1]
    assert feats is not None
    assert abs(feats[FEATURE_NAMES.index("pause_step_db")]) < 1.0


def test_front_end_says_when_a_tone_is_sounding() -> None:
    x = np.concatenate([quiet(0.5), _speech_like(0.6, 2), quiet(0.2), tone(1000, 0.6), quiet(1)])
    sounding = _front_end_over(x)[2]
    beep = [s for i, s in enumerate(sounding) if 1.4 <= i * 0.02 < 1.85]
    assert all(beep) and not any(sounding[:60]) and not sounding[-1]
