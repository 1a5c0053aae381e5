"""Train the AMD model on the dev corpus with cross-validation, and ship it.

    python -m benchmarks.amd_train [--corpus ../shared/data/amd-corpus/dev] [--folds 5]
                                   [--seed 20251122] [--no-write] [--mistakes]

1. Every clip runs through the detector's own front end (telephony/amd/features.py), so
   the rows are exactly the per-frame feature vectors the streaming detector scores.
   Labels: human -> 0; machine, sit, music -> 1 ("not a person"); fax and silence clips
   are left to the tone and silence rules. Each clip gets the same total row weight.
2. Nested, stratified k-fold cross-validation over clips: for each outer fold, the
   model is fitted on the other folds and the policy thresholds are chosen on those
   folds' own inner out-of-fold predictions; the outer fold is then scored. Those
   out-of-fold verdicts are the honest figures (``cross_validated``).
3. The shipped model is fitted on all clips; its thresholds are chosen on the outer
   out-of-fold predictions. It is written to telephony/amd/amd_model.json with the
   training settings, so the same command rebuilds the same file.

Nothing about individual clips is used beyond their label: no clip names, no
per-clip rules. The policy search is a fixed grid (``GRID``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from telephony.amd.detector import Verdict
from telephony.amd.features import FEATURE_NAMES, FrontEnd, ToneEvent
from telephony.amd.frames import FRAME_S, FRAME_SAMPLES
from telephony.amd.metrics import Scored, score
from telephony.amd.model import MODEL_RESOURCE, PolicyParams, TreeModel, fit_trees
from telephony.amd.vad import FrameStats, analyse_frames
from telephony.amd_corpus import Clip, load_manifest
from telephony.wavfile import read_wav

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "amd-corpus" / "dev"
MODEL_PATH = ROOT / "telephony" / "amd" / MODEL_RESOURCE
LIMIT_S = 5.0
POSITIVE = ("machine", "sit", "music")
TRAINED = ("human", *POSITIVE)
FIT = {"rounds": 150, "learning_rate": 0.1, "n_bins": 32, "l2": 1.0}
GRID = {
    "human_pause_s": (0.3, 0.5, 0.7),
    "human_max_p": (0.05, 0.1, 0.2, 0.3),
    "human_late_pause_s": (0.9, 1.1, 1.3),
    "human_late_max_p": (0.5, 0.7),
    "machine_min_p": (0.9, 0.95, 0.98),
    "machine_min_speech_s": (0.8, 1.2),
    # At the limit: equal thresholds force a decision (no not_sure), which the nested
    # search chose over three fold seeds (docs/amd.md, "What was shipped and tried").
    "limit_machine_p": (0.7, 0.8),
    "limit_human_p": (0.5, 0.6, 0.7),
}
# Costs the threshold search minimises: a person sent away from an agent is an
# abandoned call (25); any other wrong verdict 1; plus 0.03 per second of decision time
# (on human and machine clips: a person waits in silence while we listen).
COST_HUMAN_AWAY = 25.0
COST_WRONG = 1.0
COST_PER_S = 0.03
_EVENT_CODE = {ToneEvent.FAX: 1, ToneEvent.SIT: 2, ToneEvent.BEEP: 3}


@dataclass
class Trace:
    """One clip through the front end, frame by frame up to the analysis limit."""

    clip: Clip
    x: npt.NDArray[np.float64]  # (n, d) features; NaN rows before the first utterance
    has: npt.NDArray[np.bool_]  # (n,) features present
    event_frame: int  # first frame with a tone event, or -1
    event_code: int
    hold: npt.NDArray[np.bool_]  # (n,) a tone is sounding: no person verdict on this frame


# Called after each frame with the frame index, the front end (its VAD state) and the
# frame statistics: how a study adds its own per-frame columns (benchmarks/amd_variants).
FrameHook = Callable[[int, FrontEnd, FrameStats], None]
# Chooses, among a clip's feature rows, those a model is trained on.
RowFilter = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.bool_]]


def trace_clip(clip: Clip, limit_s: float = LIMIT_S) -> Trace:
    return trace_samples(clip, read_wav(clip.path), limit_s)


def trace_samples(
    clip: Clip,
    samples: npt.NDArray[np.int16],
    limit_s: float = LIMIT_S,
    on_frame: FrameHook | None = None,
) -> Trace:
    """``clip`` (its label and name) traced on ``samples``, which may be its audio
    changed (in gain, or through another channel)."""
    n = min(samples.size // FRAME_SAMPLES, round(limit_s / FRAME_S))
    block = samples[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
    st = analyse_frames(block)
    front = FrontEnd()
    x = np.full((n, len(FEATURE_NAMES)), np.nan)
    event_frame, event_code = -1, 0
    hold = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        feats, event = front.step(st.energy_db[i], st.tonality[i], st.peak_hz[i], st.high_ratio[i])
        hold[i] = front.tone_sounding
        if feats is not None:
            x[i] = feats
        if event is not None and event_frame < 0:
            event_frame, event_code = i, _EVENT_CODE[event[0]]
        if on_frame is not None:
            on_frame(i, front, st)
    return Trace(clip, x, ~np.isnan(x[:, 0]), event_frame, event_code, hold)


def fit(traces: Sequence[Trace], rows: RowFilter | None = None) -> TreeModel:
    """Trees on every clip's feature rows (or those ``rows`` keeps), each clip the same
    total weight."""
    xs, ys, ws = [], [], []
    for t in traces:
        if t.clip.label not in TRAINED or not t.has.any():
            continue
        x = t.x[t.has]
        if rows is not None:
            x = x[rows(x)]
        xs.append(x)
        ys.append(np.full(x.shape[0], 1.0 if t.clip.label in POSITIVE else 0.0))
        ws.append(np.full(x.shape[0], 1.0 / x.shape[0]))
    return fit_trees(np.vstack(xs), np.concatenate(ys), np.concatenate(ws), **FIT)  # type: ignore[arg-type]


def probabilities(model: TreeModel, traces: Sequence[Trace]) -> list[npt.NDArray[np.float64]]:
    out = []
    for t in traces:
        p = np.full(t.x.shape[0], np.nan)
        if t.has.any():
            p[t.has] = 1.0 / (1.0 + np.exp(-np.clip(model.logits(t.x[t.has]), -50, 50)))
        out.append(p)
    return out


_CUR_SIL = FEATURE_NAMES.index("cur_silence")
_TOTAL = FEATURE_NAMES.index("total_speech")


def simulate(t: Trace, p: npt.NDArray[np.float64], pol: PolicyParams) -> tuple[str, float]:
    """The detector's ``decide`` loop, vectorised over the frames of one clip: the first
    frame where a tone event, the machine rule or the person rule fires, else the limit
    rule. Returns (verdict, seconds)."""
    n = p.size
    last = min(n, round(pol.limit_s / FRAME_S)) - 1
    with np.errstate(invalid="ignore"):
        m = np.flatnonzero(
            (p[: last + 1] >= pol.machine_min_p)
            & (t.x[: last + 1, _TOTAL] >= pol.machine_min_speech_s)
        )
        cs, pp = t.x[: last + 1, _CUR_SIL], p[: last + 1]
        h = np.flatnonzero(
            (
                ((cs >= pol.human_pause_s) & (pp <= pol.human_max_p))
                | ((cs >= pol.human_late_pause_s) & (pp <= pol.human_late_max_p))
            )
            & ~t.hold[: last + 1]
        )
    cands = []
    if 0 <= t.event_frame <= last:
        code = t.event_code
        v = "fax" if code == 1 else "sit" if code == 2 else "machine"
        cands.append((t.event_frame, 0, v))
    if m.size:
        cands.append((int(m[0]), 1, "machine"))
    if h.size:
        cands.append((int(h[0]), 2, "human"))
    if cands:
        i, _, v = min(cands)
        return v, (i + 1) * FRAME_S
    pl = p[last]
    if np.isnan(pl):
        v = Verdict.SILENCE.value
    elif pl >= pol.limit_machine_p:
        v = "machine"
    elif pl <= pol.limit_human_p:
        v = "human"
    else:
        v = Verdict.NOT_SURE.value
    return v, (last + 1) * FRAME_S


def cost(rows: Sequence[Scored]) -> float:
    c = 0.0
    for r in rows:
        if r.label == "human" and r.verdict in ("machine", "fax", "sit"):
            c += COST_HUMAN_AWAY
        elif r.verdict != r.label and not (r.label == "music" and r.verdict != "human"):
            c += COST_WRONG
        if r.label in ("human", "machine"):
            c += COST_PER_S * r.at_s
    return c


def policies() -> list[PolicyParams]:
    out = []
    for combo in itertools.product(*GRID.values()):
        kw = dict(zip(GRID.keys(), combo, strict=True))
        if kw["limit_human_p"] > kw["limit_machine_p"]:
            continue
        out.append(PolicyParams(limit_s=LIMIT_S, **kw))
    return out


def scored(
    traces: Sequence[Trace], probs: Sequence[npt.NDArray[np.float64]], pol: PolicyParams
) -> list[Scored]:
    rows = []
    for t, p in zip(traces, probs, strict=True):
        v, at = simulate(t, p, pol)
        rows.append(Scored(t.clip.name, t.clip.label, t.clip.tags, v, at))
    return rows


def _first(mask: npt.NDArray[np.bool_]) -> int:
    """Index of the first True, or a large sentinel."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else _NEVER


_NEVER = 1 << 30
# Verdict codes of the vectorised search (``tune``).
_V_HUMAN, _V_MACHINE, _V_FAX, _V_SIT, _V_SILENCE, _V_NOT_SURE = range(6)
_V_NAMES = ("human", "machine", "fax", "sit", "silence", "not_sure")


def policy_costs(
    traces: Sequence[Trace], probs: Sequence[npt.NDArray[np.float64]], pols: Sequence[PolicyParams]
) -> npt.NDArray[np.float64]:
    """``cost(scored(traces, probs, pol))`` for every policy at once: what ``simulate``
    decides depends on each rule only through the first frame where it fires, so those
    frames are found once per clip and threshold pair, then combined for all policies."""
    limit_s = pols[0].limit_s
    if any(pol.limit_s != limit_s for pol in pols):
        raise ValueError("limit_s: the vectorised search needs one analysis limit")
    keys_h = sorted({(q.human_pause_s, q.human_max_p) for q in pols})
    keys_l = sorted({(q.human_late_pause_s, q.human_late_max_p) for q in pols})
    keys_m = sorted({(q.machine_min_p, q.machine_min_speech_s) for q in pols})
    ih = np.array([keys_h.index((q.human_pause_s, q.human_max_p)) for q in pols])
    il = np.array([keys_l.index((q.human_late_pause_s, q.human_late_max_p)) for q in pols])
    im = np.array([keys_m.index((q.machine_min_p, q.machine_min_speech_s)) for q in pols])
    lim_m = np.array([q.limit_machine_p for q in pols])
    lim_h = np.array([q.limit_human_p for q in pols])
    total = np.zeros(len(pols))
    for t, p in zip(traces, probs, strict=True):
        last = min(p.size, round(limit_s / FRAME_S)) - 1
        pp, cs, ts = p[: last + 1], t.x[: last + 1, _CUR_SIL], t.x[: last + 1, _TOTAL]
        free = ~t.hold[: last + 1]
        with np.errstate(invalid="ignore"):
            fh = np.array([_first((cs >= a) & (pp <= b) & free) for a, b in keys_h])
            fl = np.array([_first((cs >= a) & (pp <= b) & free) for a, b in keys_l])
            fm = np.array([_first((pp >= a) & (ts >= b)) for a, b in keys_m])
        first_h = np.minimum(fh[ih], fl[il])
        first_m = fm[im]
        ev = t.event_frame if 0 <= t.event_frame <= last else _NEVER
        ev_v = (_V_FAX, _V_SIT, _V_MACHINE)[t.event_code - 1] if ev < _NEVER else _V_MACHINE
        pl = p[last]
        if np.isnan(pl):
            limit_v = np.full(len(pols), _V_SILENCE)
        else:
            limit_v = np.where(
                pl >= lim_m, _V_MACHINE, np.where(pl <= lim_h, _V_HUMAN, _V_NOT_SURE)
            )
        # The earliest rule wins; at the same frame the tone event, then the machine rule.
        verdict = np.where(
            ev <= np.minimum(first_m, first_h),
            ev_v,
            np.where(first_m <= first_h, _V_MACHINE, _V_HUMAN),
        )
        frame = np.minimum(ev, np.minimum(first_m, first_h))
        undecided = frame >= _NEVER
        verdict = np.where(undecided, limit_v, verdict)
        at = (np.where(undecided, last, frame) + 1) * FRAME_S
        label = t.clip.label
        if label == "human":
            away = np.isin(verdict, (_V_MACHINE, _V_FAX, _V_SIT))
            total += np.where(away, COST_HUMAN_AWAY, np.where(verdict != _V_HUMAN, COST_WRONG, 0))
        elif label == "music":
            total += np.where(verdict == _V_HUMAN, COST_WRONG, 0.0)
        else:
            total += np.where(verdict != _V_NAMES.index(label), COST_WRONG, 0.0)
        if label in ("human", "machine"):
            total += COST_PER_S * at
    return total


def tune(traces: Sequence[Trace], probs: Sequence[npt.NDArray[np.float64]]) -> PolicyParams:
    """The grid policy of least ``cost`` (the first in grid order among equals)."""
    pols = policies()
    c = policy_costs(traces, probs, pols)
    return pols[int(np.flatnonzero(c <= c.min() + 1e-9)[0])]


def folds(traces: Sequence[Trace], k: int, rng: np.random.Generator) -> list[list[int]]:
    """Stratified by label: each label's clips dealt round-robin after a shuffle."""
    out: list[list[int]] = [[] for _ in range(k)]
    labels = sorted({t.clip.label for t in traces})
    j = 0
    for label in labels:
        idx = [i for i, t in enumerate(traces) if t.clip.label == label]
        for i in rng.permutation(idx):
            out[j % k].append(int(i))
            j += 1
    return out


def oof_probabilities(
    traces: Sequence[Trace],
    k: int,
    rng: np.random.Generator,
    fit_fn: Callable[[Sequence[Trace]], TreeModel] = fit,
) -> list[npt.NDArray[np.float64]]:
    probs: list[npt.NDArray[np.float64]] = [np.empty(0)] * len(traces)
    for fold in folds(traces, k, rng):
        test = set(fold)
        model = fit_fn([t for i, t in enumerate(traces) if i not in test])
        for i, p in zip(fold, probabilities(model, [traces[i] for i in fold]), strict=True):
            probs[i] = p
    return probs


def cross_validate(
    traces: Sequence[Trace], k: int, seed: int
) -> tuple[list[Scored], list[npt.NDArray[np.float64]]]:
    """Nested CV: out-of-fold verdicts for every clip, and the outer out-of-fold
    probabilities (used to choose the shipped policy)."""
    rng = np.random.default_rng(seed)
    outer = folds(traces, k, rng)
    rows: list[Scored | None] = [None] * len(traces)
    probs: list[npt.NDArray[np.float64]] = [np.empty(0)] * len(traces)
    for fold in outer:
        test = set(fold)
        train = [t for i, t in enumerate(traces) if i not in test]
        inner = oof_probabilities(train, k - 1, rng)
        pol = tune(train, inner)
        model = fit(train)
        test_traces = [traces[i] for i in fold]
        test_probs = probabilities(model, test_traces)
        for i, r, p in zip(fold, scored(test_traces, test_probs, pol), test_probs, strict=True):
            rows[i] = r
            probs[i] = p
    return [r for r in rows if r is not None], probs


def load_traces(corpus: Path) -> list[Trace]:
    return [trace_clip(c) for c in load_manifest(corpus)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.amd_train", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20251122)
    ap.add_argument("--no-write", action="store_true", help="do not overwrite the shipped model")
    ap.add_argument(
        "--mistakes",
        action="store_true",
        help="list the human and machine clips misjudged out of fold (error analysis)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    traces = load_traces(args.corpus)
    print(f"traced {len(traces)} clips in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows, oof = cross_validate(traces, args.folds, args.seed)
    cv = score(rows)
    if args.mistakes:
        for r in rows:
            if r.label in ("human", "machine") and r.verdict != r.label:
                tags = ";".join(r.tags) or "-"
                print(f"out of fold: {r.clip} {r.label} -> {r.verdict} at {r.at_s:.2f} s [{tags}]")
    policy = tune(traces, oof)
    model = fit(traces)
    insample = score(scored(traces, probabilities(model, traces), policy))
    summary = {
        k: cv[k]
        for k in (
            "accuracy",
            "human_as_machine_rate",
            "machine_as_human_rate",
            "median_decision_s",
            "p95_decision_s",
            "n",
        )
    }
    print("cross-validated:", json.dumps(summary))
    print("in-sample:", json.dumps({k: insample[k] for k in summary}))
    print("policy:", json.dumps(asdict(policy)))
    doc: dict[str, Any] = {
        "trained_by": "python -m benchmarks.amd_train",
        "corpus": "amd-corpus/dev",
        "folds": args.folds,
        "seed": args.seed,
        "fit": FIT,
        "policy": asdict(policy),
        "model": model.to_json(),
        "cross_validated": summary,
    }
    if not args.no_write:
        MODEL_PATH.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(
            f"wrote {MODEL_PATH.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
