"""Measure variants of the AMD detector (features, training rows, policy) by the nested
cross-validation of benchmarks/amd_train.py, over several fold seeds.

    python -m benchmarks.amd_variants [--seeds 20251122,7,11] [--cache DIR] [VARIANT ...]

Each variant prints, per fold seed, accuracy / humans as machine / machines as human /
median decision s / adversarial-slice accuracy, then their mean over the seeds (the rows
of docs/amd.md, "What was shipped and tried"). Nothing here is shipped: a variant that
wins is moved into telephony/amd/ and the model retrained with benchmarks.amd_train.

The candidate features (``EXTRA``) are computed next to the shipped front end, frame by
frame and causally (only frames up to the current one), from the same 20 ms Hann-windowed
FFT as telephony/amd/vad.py:
- background *spectrum* (docs/amd.md, "Fourth attempt"): the median level of 7 bands
  (50-250, 250-500, 500-1000, 1000-2000, 2000-3000, 3000-3550, 3550-4000 Hz) of the
  background frames in the pauses since the first utterance minus before it (dB), the
  RMS of those band steps around their mean (a change of the noise's *shape*), and the
  change of the background's spectral flatness (log of geometric over arithmetic mean
  power, 250-3550 Hz);
- the start of the current pause: the median level (dB) and band shape of the frames
  60-500 ms after the last voice frame (every frame but digital zeros, tones included:
  the tone hold already keeps a person verdict off a sounding beep), against the
  background before onset (a person's line stays live, a recording may drop to line
  noise or to another noise);
- the band limit of the voice: voice frames' level above 3000 Hz and below 250 Hz,
  relative to their 250-3550 Hz level, minus the same for the background before onset
  (a greeting recorded through another channel brings its own band limit);
- the background itself: its median level before onset (dBFS, 250-3550 Hz) and how much
  it moves from frame to frame (median absolute difference of consecutive background
  frames' levels, dB): a person's room is rarely as quiet and steady as a voicemail
  line, whose greeting's recording noise is mostly under the line hiss (dev: the pause
  after a greeting reads a median +0.1 dB against the background before it); and that
  level relative to the mean level of the voice frames so far (dB; independent of the
  channel's gain); the *colour* of that background, gain-independent too: its median
  spectral flatness and share above 1500 Hz (a line's own hiss is flat and white, a
  room's noise is coloured: pink, brown, hum, babble, street).

Fold probabilities are the expensive part (25 model fits per seed); ``--cache`` keeps
them per variant and seed, so policy variants on the same features cost seconds.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import pickle
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt

from benchmarks import amd_train as atr
from telephony.amd import tones
from telephony.amd.features import FrontEnd
from telephony.amd.frames import FRAME_S, FRAME_SAMPLES
from telephony.amd.metrics import Scored, score
from telephony.amd.model import TreeModel
from telephony.amd.vad import _WINDOW, FrameStats, analyse_frames
from telephony.amd_corpus import Clip, load_manifest
from telephony.wavfile import read_wav

FloatArray = npt.NDArray[np.float64]
BANDS = ((1, 5), (5, 10), (10, 20), (20, 40), (40, 60), (60, 71), (71, 81))  # 50 Hz bins
EXTRA: tuple[str, ...] = (
    *(f"bg_band{k}_step" for k in range(len(BANDS))),
    "bg_shape_step",
    "bg_flatness_step",
    "pause_start_step_db",
    "pause_start_shape",
    "voice_high_rel",
    "voice_low_rel",
    "pre_level_db",
    "bg_fluctuation_db",
    "pre_level_rel_db",
    "pre_flatness",
    "pre_high_share",
)
_TAIL = 5  # background frames in a pause count 100 ms after the last voice frame
_PAUSE_START = (3, 25)  # frames after the last voice frame: 60..500 ms
_SPEECH_BANDS = slice(1, 6)  # 250-3550 Hz


def other_channel(samples: npt.NDArray[np.int16], channel: str) -> npt.NDArray[np.int16]:
    """The whole call through another band limit, as another carrier or handset would
    pass it: ``lpHZ`` (low-pass) or ``hpHZ`` (high-pass), 2nd-order Butterworth."""
    kind, hz = channel[:2], float(channel[2:])
    sos = butter(2, hz, btype="lowpass" if kind == "lp" else "highpass", fs=8000, output="sos")
    y = sosfilt(sos, samples.astype(np.float64))
    out: npt.NDArray[np.int16] = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
    return out


def band_stats(block: npt.NDArray[np.int16]) -> tuple[FloatArray, FloatArray]:
    """Per frame: the 7 band levels (dB) and the log spectral flatness (<= 0)."""
    x = block.astype(np.float64) / 32768.0
    spec = np.abs(np.fft.rfft(x * _WINDOW, axis=1)) ** 2
    cs = np.concatenate((np.zeros((spec.shape[0], 1)), np.cumsum(spec, axis=1)), axis=1)
    bands = np.stack([cs[:, hi] - cs[:, lo] for lo, hi in BANDS], axis=1)
    sp = spec[:, 5:71] + 1e-14
    flat = np.mean(np.log(sp), axis=1) - np.log(np.mean(sp, axis=1))
    return 10.0 * np.log10(bands + 1e-12), flat


def _level(bands_db: FloatArray) -> FloatArray:
    """250-3550 Hz level (dB) of band levels (last axis)."""
    out: FloatArray = 10.0 * np.log10(np.sum(10.0 ** (bands_db[..., _SPEECH_BANDS] / 10.0), -1))
    return out


def _shape(step: FloatArray) -> float:
    d = step[_SPEECH_BANDS] - step[_SPEECH_BANDS].mean()
    return float(np.sqrt(np.mean(d**2)))


def trace_with_extra(
    clip: Clip, limit_s: float = atr.LIMIT_S, gain_db: float = 0.0, channel: str = ""
) -> tuple[atr.Trace, FloatArray]:
    """``amd_train.trace_clip`` plus the ``EXTRA`` columns (0 where undefined, NaN on
    frames without features), computed by a hook on the training script's own trace."""
    samples = read_wav(clip.path)
    if gain_db:  # the whole call louder or quieter, as another carrier or handset would
        scaled = np.rint(samples.astype(np.float64) * 10.0 ** (gain_db / 20.0))
        samples = np.clip(scaled, -32768, 32767).astype(np.int16)
    if channel:
        samples = other_channel(samples, channel)
    n = min(samples.size // FRAME_SAMPLES, round(limit_s / FRAME_S))
    block = samples[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
    bdb, flat = band_stats(block)
    ex = np.full((n, len(EXTRA)), np.nan)
    pre: list[int] = []  # background frames before the first utterance
    pause: list[int] = []  # background frames in pauses since
    voice_frames: list[int] = []
    arrays: dict[str, FloatArray] = {}  # the trace's frame statistics as arrays, once

    def on_frame(i: int, front: FrontEnd, st: FrameStats) -> None:
        if not arrays:
            arrays["energy"], arrays["high"] = np.asarray(st.energy_db), np.asarray(st.high_ratio)
        energy, high = arrays["energy"], arrays["high"]
        vad = front.vad
        voice = vad.last_voice_frame == i
        if voice:
            voice_frames.append(i)
        elif st.energy_db[i] > -99.0 and st.tonality[i] < tones.MIN_TONALITY:
            if not (vad.in_utterance or vad.utterances):
                pre.append(i)
            elif i - vad.last_voice_frame > _TAIL:
                pause.append(i)
        row = np.zeros(len(EXTRA))
        if len(pre) >= 3:
            pm = np.median(bdb[pre], axis=0)
            pre_level = float(_level(pm))
            if len(pause) >= 3:
                step = np.median(bdb[pause], axis=0) - pm
                row[0:7] = step
                row[7] = _shape(step)
                row[8] = float(np.median(flat[pause]) - np.median(flat[pre]))
            last = vad.last_voice_frame
            if not vad.in_utterance and last >= 0 and i - last >= _PAUSE_START[0]:
                lo, hi = last + _PAUSE_START[0], min(i, last + _PAUSE_START[1])
                idx = [j for j in range(lo, hi + 1) if st.energy_db[j] > -99.0]
                if len(idx) >= 2:
                    cb = np.median(bdb[idx], axis=0)
                    row[9] = float(_level(cb)) - pre_level
                    row[10] = _shape(cb - pm)
            if voice_frames:
                vb = bdb[voice_frames]
                vl = energy[voice_frames]
                pb = bdb[pre]
                pl = _level(pb)
                row[11] = float(np.mean(vb[:, 5] - vl) - np.median(pb[:, 5] - pl))
                row[12] = float(np.mean(vb[:, 0] - vl) - np.median(pb[:, 0] - pl))
            row[13] = float(np.median(energy[pre]))
            bg = energy[sorted(pre + pause)]
            row[14] = float(np.median(np.abs(np.diff(bg)))) if bg.size >= 3 else 0.0
            if voice_frames:
                row[15] = row[13] - float(np.mean(energy[voice_frames]))
            row[16] = float(np.median(flat[pre]))
            row[17] = float(np.median(high[pre]))
        ex[i] = row

    trace = atr.trace_samples(clip, samples, limit_s, on_frame)
    ex[~trace.has] = np.nan
    return trace, ex


def with_columns(
    base: Sequence[tuple[atr.Trace, FloatArray]], cols: Sequence[str]
) -> list[atr.Trace]:
    """Traces whose feature rows are the shipped 18 plus the named ``EXTRA`` columns
    (appended, so the policy's column indices are unchanged)."""
    idx = [EXTRA.index(c) for c in cols]
    out = []
    for t, ex in base:
        xs = np.hstack([t.x, ex[:, idx]]) if idx else t.x
        out.append(atr.Trace(t.clip, xs, t.has, t.event_frame, t.event_code, t.hold))
    return out


RowFilter = atr.RowFilter


def used_rows(x: FloatArray) -> npt.NDArray[np.bool_]:
    """Rows where the detector may consult the model under any grid policy: in a pause of
    at least the shortest grid pause, after the least grid machine speech, or the last."""
    keep: npt.NDArray[np.bool_] = (x[:, atr._CUR_SIL] >= min(atr.GRID["human_pause_s"])) | (
        x[:, atr._TOTAL] >= min(atr.GRID["machine_min_speech_s"])
    )
    keep[-1] = True
    return keep


def make_fit(rows: RowFilter | None) -> Callable[[Sequence[atr.Trace]], TreeModel]:
    """``amd_train.fit`` on the rows ``rows`` keeps (all when None)."""
    return functools.partial(atr.fit, rows=rows)


FoldProbs = list[tuple[list[int], list[FloatArray], list[int], list[FloatArray]]]


def fold_probabilities(
    traces: Sequence[atr.Trace],
    k: int,
    seed: int,
    fit: Callable[[Sequence[atr.Trace]], TreeModel],
    test_traces: Sequence[atr.Trace] | None = None,
) -> FoldProbs:
    """For each outer fold (as ``amd_train.cross_validate`` draws them): the training
    clips, their inner out-of-fold probabilities, the test clips and their probabilities
    (on ``test_traces``, the same clips changed, e.g. in gain, when given)."""
    scored_traces = traces if test_traces is None else test_traces
    rng = np.random.default_rng(seed)
    out: FoldProbs = []
    for fold in atr.folds(traces, k, rng):
        test = set(fold)
        train_idx = [i for i in range(len(traces)) if i not in test]
        train = [traces[i] for i in train_idx]
        inner = atr.oof_probabilities(train, k - 1, rng, fit)
        model = fit(train)
        test_probs = atr.probabilities(model, [scored_traces[i] for i in fold])
        out.append((train_idx, inner, list(fold), test_probs))
    return out


ProbMap = Callable[[atr.Trace, FloatArray], FloatArray]


def evaluate(
    traces: Sequence[atr.Trace], fp: FoldProbs, pmap: ProbMap | None = None
) -> list[Scored]:
    """Out-of-fold verdicts: thresholds tuned on the inner probabilities of each outer
    fold's training clips (``amd_train.tune`` on ``amd_train.GRID``), then applied."""
    rows: list[Scored | None] = [None] * len(traces)
    for train_idx, inner, fold, test_p in fp:
        train = [traces[i] for i in train_idx]
        if pmap is not None:
            inner_p = [pmap(t, p) for t, p in zip(train, inner, strict=True)]
        else:
            inner_p = inner
        pol = atr.tune(train, inner_p)
        for i, p in zip(fold, test_p, strict=True):
            t = traces[i]
            v, at = atr.simulate(t, pmap(t, p) if pmap is not None else p, pol)
            rows[i] = Scored(t.clip.name, t.clip.label, t.clip.tags, v, at)
    return [r for r in rows if r is not None]


def limit_mean(frames: int) -> ProbMap:
    """The limit rule decides on the mean probability of the last ``frames`` frames of
    the analysis (the frame rules are unchanged before the last frame)."""

    def pmap(t: atr.Trace, p: FloatArray) -> FloatArray:
        last = min(p.size, round(atr.LIMIT_S / FRAME_S)) - 1
        win = p[max(0, last - frames + 1) : last + 1]
        if not np.isfinite(win).any():
            return p
        q = p.copy()
        q[last] = float(np.nanmean(win))
        return q

    return pmap


@dataclass(frozen=True)
class Variant:
    """Extra feature columns, a training-row filter, grid overrides, cost overrides and a
    probability map for the limit rule; ``features`` names the fold probabilities used
    (variants that only change the policy share the shipped features' folds)."""

    doc: str
    cols: tuple[str, ...] = ()
    rows: RowFilter | None = None
    grid: dict[str, tuple[float, ...]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    pmap: ProbMap | None = None

    def features_key(self, name: str) -> str:
        return name if (self.cols or self.rows) else "shipped"


VARIANTS: dict[str, Variant] = {
    "shipped": Variant("shipped: 18 features, all rows, shipped grid"),
    "bg_spectrum": Variant(
        "+ background spectrum: 7 band steps, shape step, flatness step (9 features)",
        cols=(*EXTRA[:7], "bg_shape_step", "bg_flatness_step"),
    ),
    "pause_start": Variant(
        "+ start of the current pause (60-500 ms) vs before onset: level, band shape",
        cols=("pause_start_step_db", "pause_start_shape"),
    ),
    "voice_band": Variant(
        "+ voice band limit: >3000 Hz and <250 Hz of voice frames vs background",
        cols=("voice_high_rel", "voice_low_rel"),
    ),
    "bg_level": Variant(
        "+ background level before onset (dBFS) and its frame-to-frame fluctuation",
        cols=("pre_level_db", "bg_fluctuation_db"),
    ),
    "pre_level": Variant("+ background level before onset (dBFS) only", cols=("pre_level_db",)),
    "pre_colour": Variant(
        "+ colour of the background before onset: flatness, share above 1500 Hz",
        cols=("pre_flatness", "pre_high_share"),
    ),
    "bg_fluctuation": Variant(
        "+ background frame-to-frame fluctuation only", cols=("bg_fluctuation_db",)
    ),
    "pre_level_rel": Variant(
        "+ background level before onset relative to the voice frames' level (dB)",
        cols=("pre_level_rel_db",),
    ),
    "rows_used": Variant(
        "training rows only where the policy may consult the model", rows=used_rows
    ),
    "pause_0.2": Variant(
        "grid: human_pause_s also 0.2", grid={"human_pause_s": (0.2, 0.3, 0.5, 0.7)}
    ),
    "pause_0.5_only": Variant(
        "grid: human_pause_s 0.5 only (slower people, for late beeps)",
        grid={"human_pause_s": (0.5,)},
    ),
    "pause_0.7_only": Variant(
        "grid: human_pause_s 0.7 only (slower people, for late beeps)",
        grid={"human_pause_s": (0.7,)},
    ),
    "machine_speech_0.5": Variant(
        "grid: machine_min_speech_s also 0.5", grid={"machine_min_speech_s": (0.5, 0.8, 1.2)}
    ),
    "machine_p_0.99": Variant(
        "grid: machine_min_p also 0.99", grid={"machine_min_p": (0.9, 0.95, 0.98, 0.99)}
    ),
    "late_pause_0.7": Variant(
        "grid: human_late_pause_s also 0.7", grid={"human_late_pause_s": (0.7, 0.9, 1.1, 1.3)}
    ),
    "cost_time_0.01": Variant("time cost 0.01 per s", costs={"COST_PER_S": 0.01}),
    "limit_mean_0.2": Variant("limit rule on the mean p of the last 0.2 s", pmap=limit_mean(10)),
    "limit_mean_0.5": Variant("limit rule on the mean p of the last 0.5 s", pmap=limit_mean(25)),
    "limit_mean_1.0": Variant("limit rule on the mean p of the last 1 s", pmap=limit_mean(50)),
}


def summary(rows: Sequence[Scored]) -> dict[str, float]:
    s = score(rows)
    keys = ("accuracy", "human_as_machine_rate", "machine_as_human_rate", "median_decision_s")
    return {k: float(s[k]) for k in keys} | {
        "adversarial": float(s["per_tag"]["adversarial"]["accuracy"])
    }


@contextmanager
def policy_search(v: Variant) -> Iterator[None]:
    """``amd_train``'s grid and costs as the variant sets them, restored afterwards."""
    grid = dict(atr.GRID)
    costs = {k: getattr(atr, k) for k in v.costs}
    atr.GRID.update(v.grid)
    for k, c in v.costs.items():
        setattr(atr, k, c)
    try:
        yield
    finally:
        atr.GRID.clear()
        atr.GRID.update(grid)
        for k, c in costs.items():
            setattr(atr, k, c)


def run(
    name: str,
    base: Sequence[tuple[atr.Trace, FloatArray]],
    seeds: Sequence[int],
    cache: Path | None,
) -> dict[str, float]:
    """One variant over the fold seeds; prints and returns the mean figures."""
    v = VARIANTS[name]
    traces = with_columns(base, v.cols)
    key = v.features_key(name)
    per_seed = []
    for seed in seeds:
        path = cache / f"folds_{key}_{seed}.pkl" if cache else None
        if path is not None and path.exists():
            fp: FoldProbs = pickle.loads(path.read_bytes())
        else:
            fp = fold_probabilities(traces, 5, seed, make_fit(v.rows))
            if path is not None:
                path.write_bytes(pickle.dumps(fp))
        with policy_search(v):
            s = summary(evaluate(traces, fp, v.pmap))
        per_seed.append(s)
        print(f"{name} seed {seed}: {_fmt(s)}", flush=True)
    mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
    print(f"{name} mean: {_fmt(mean)}  ({v.doc})", flush=True)
    return mean


def _fmt(s: dict[str, float]) -> str:
    return (
        f"{s['accuracy']:.1%} / {s['human_as_machine_rate']:.2%} / "
        f"{s['machine_as_human_rate']:.2%} / {s['median_decision_s']:.2f} s / "
        f"{s['adversarial']:.1%}"
    )


def background_report(corpus: Path) -> None:
    """Error analysis behind the background cues, on the manifest's speech times: the
    band level (dB) of the first 100 ms after answer and of the pause after the first
    utterance (150-600 ms after its end, before any next one), each minus the median of
    the frames 40-300 ms before speech starts; percentiles per label and subtype."""
    out: dict[str, list[tuple[str, float, float]]] = {"human": [], "machine": []}
    with (corpus / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["label"] not in out or not r["speech_segments"]:
            continue
        x = read_wav(corpus / r["file"])
        n = x.size // FRAME_SAMPLES
        e = np.asarray(analyse_frames(x[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)).energy_db)
        onset = round(float(r["greeting_start_s"]) / FRAME_S)
        if onset < 12:  # needs 240 ms of background before speech
            continue
        pre = float(np.median(e[max(6, onset - 15) : onset - 2]))
        segs = [tuple(float(v) for v in seg.split("-")) for seg in r["speech_segments"].split(";")]
        a = round((segs[0][1] + 0.15) / FRAME_S)
        b = min(round((segs[0][1] + 0.6) / FRAME_S), n)
        if len(segs) > 1:
            b = min(b, round(segs[1][0] / FRAME_S) - 2)
        pause = float(np.median(e[a:b])) - pre if b > a + 3 else float("nan")
        out[r["label"]].append((r["subtype"], float(np.median(e[1:6])) - pre, pause))
    q = (5, 25, 50, 75, 95)
    for label, vals in out.items():
        start = np.array([v[1] for v in vals])
        pauses = np.array([v[2] for v in vals])
        print(
            f"{label} ({len(vals)} clips): start-before-onset {np.nanpercentile(start, q).round(1)}"
            f" dB, pause-before-onset {np.nanpercentile(pauses, q).round(1)} dB (percentiles {q})"
        )
        for sub in sorted({v[0] for v in vals}):
            ps = np.array([v[2] for v in vals if v[0] == sub])
            if np.isfinite(ps).any():
                pct = np.nanpercentile(ps, (10, 50, 90)).round(1)
                print(f"  {sub}: pause-before-onset 10/50/90 {pct}")


def channel_test(
    name: str, corpus: Path, conditions: Sequence[str], seed: int, cache: Path | None
) -> None:
    """Train and tune as usual; score each outer fold's clips through another channel:
    the whole call louder or quieter (``+6``, ``-6``: dB) or band-limited otherwise
    (``lp3000``, ``hp300``). Does the variant rely on the dev channel's own levels or
    colour?"""
    v = VARIANTS[name]
    clips = load_manifest(corpus)
    traces = with_columns([trace_with_extra(c) for c in clips], v.cols)
    for cond in conditions:
        if cond[:2] in ("lp", "hp"):
            changed = [trace_with_extra(c, channel=cond) for c in clips]
        else:
            changed = [trace_with_extra(c, gain_db=float(cond)) for c in clips]
        shifted = with_columns(changed, v.cols)
        tag = cond if cond[:2] in ("lp", "hp") else f"gain{float(cond):+g}"
        path = cache / f"folds_{v.features_key(name)}_{seed}_{tag}.pkl" if cache else None
        if path is not None and path.exists():
            fp: FoldProbs = pickle.loads(path.read_bytes())
        else:
            fp = fold_probabilities(traces, 5, seed, make_fit(v.rows), test_traces=shifted)
            if path is not None:
                path.write_bytes(pickle.dumps(fp))
        with policy_search(v):
            s = summary(evaluate(shifted, fp, v.pmap))
        print(f"{name} seed {seed}, test audio {cond}: {_fmt(s)}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.amd_variants", description=__doc__.split("\n")[0]
    )
    ap.add_argument("variants", nargs="*", help=f"default: all of {', '.join(VARIANTS)}")
    ap.add_argument("--corpus", type=Path, default=atr.DEFAULT_CORPUS)
    ap.add_argument("--seeds", default="20251122,7,11")
    ap.add_argument("--cache", type=Path, help="keep fold probabilities here (pickles)")
    ap.add_argument("--json", action="store_true", help="print the means as JSON at the end")
    ap.add_argument(
        "--background", action="store_true", help="print the background-step analysis and stop"
    )
    ap.add_argument(
        "--channel",
        help="comma-separated test channels (dB gains such as -6,6; lp3000, hp300): score "
        "the first seed's folds on the test audio through them",
    )
    args = ap.parse_args(argv)
    if args.background:
        background_report(args.corpus)
        return 0
    names = args.variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds: comma-separated integers, got {args.seeds!r}")
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    if args.channel:
        conditions = args.channel.split(",")
        for c in conditions:
            try:
                float(c[2:] if c[:2] in ("lp", "hp") else c)
            except ValueError:
                ap.error(f"--channel: dB gains or lpHZ/hpHZ, got {c!r}")
        for n in names:
            channel_test(n, args.corpus, conditions, seeds[0], args.cache)
        return 0
    base = [trace_with_extra(c) for c in load_manifest(args.corpus)]
    means = {n: run(n, base, seeds, args.cache) for n in names}
    if args.json:
        print(json.dumps(means, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
