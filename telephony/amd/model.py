"""A small gradient-boosted tree model in numpy (depth-2 trees), and its JSON form.

Logistic loss, depth-2 trees fitted greedily by Newton steps on histogram bins
(Friedman 2001, "Greedy function approximation"; the second-order split gain as in
XGBoost, Chen & Guestrin 2016). The model outputs the log-odds that a call is *not* a
person (a machine, or a network announcement or music); ``probability`` maps it to 0..1.
Scoring one vector is a handful of numpy operations, about 15 microseconds.

The shipped weights (``amd_model.json`` in this package) are written by
``python -m benchmarks.amd_train`` from the dev corpus; nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from telephony.amd.features import FEATURE_NAMES

FloatArray = npt.NDArray[np.float64]
MODEL_RESOURCE = "amd_model.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyParams:
    """When the detector commits (seconds; probabilities of "not a person", 0..1).

    A person is declared as soon as they have spoken and then stayed quiet for
    ``human_pause_s`` while the model's probability is at most ``human_max_p`` (the
    "short utterance, then a pause" rule), or, less sure, after a longer pause
    ``human_late_pause_s`` at most ``human_late_max_p`` (by then a voicemail's beep, which
    follows its greeting by 0.2-0.9 s, would have been heard); a machine only when the
    probability reaches
    ``machine_min_p`` after at least ``machine_min_speech_s`` of speech (high: a person
    sent to the machine branch is an abandoned call).
    At ``limit_s`` of audio the detector decides on what it has: machine at
    ``limit_machine_p`` or more, person at ``limit_human_p`` or less, else not sure;
    nothing heard at all is silence.
    """

    human_pause_s: float = 0.6
    human_max_p: float = 0.3
    human_late_pause_s: float = 1.0
    human_late_max_p: float = 0.5
    machine_min_p: float = 0.95
    machine_min_speech_s: float = 0.8
    limit_s: float = 5.0
    limit_machine_p: float = 0.8
    limit_human_p: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "human_max_p",
            "human_late_max_p",
            "machine_min_p",
            "limit_machine_p",
            "limit_human_p",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: must be a probability in 0..1, got {v}")
        if self.machine_min_speech_s < 0:
            raise ValueError("machine_min_speech_s: must be >= 0 seconds")
        if min(self.human_pause_s, self.human_late_pause_s, self.limit_s) <= 0:
            raise ValueError("human_pause_s, human_late_pause_s, limit_s: must be > 0 seconds")


class TreeModel:
    """Sum of depth-2 trees = log-odds. Tree k: if ``x[f0] <= t0`` go left, where
    ``x[fl] <= tl`` picks ``v[k, 0]`` else ``v[k, 1]``; else right, where ``x[fr] <= tr``
    picks ``v[k, 2]`` else ``v[k, 3]``. Depth 2 lets the model use pairs of cues ("a
    short first utterance *and* a long pause") that single stumps can only add up."""

    __slots__ = ("bias", "f0", "feature_names", "fl", "fr", "t0", "tl", "tr", "v")

    def __init__(
        self,
        *,
        bias: float,
        trees: list[list[float]],
        feature_names: tuple[str, ...] = FEATURE_NAMES,
    ) -> None:
        if feature_names != FEATURE_NAMES:
            raise ValueError(
                f"model was trained on features {feature_names}, the detector computes "
                f"{FEATURE_NAMES}: retrain with python -m benchmarks.amd_train"
            )
        if any(len(t) != 10 for t in trees):
            raise ValueError("each tree is [f0, t0, fl, tl, fr, tr, v_ll, v_lr, v_rl, v_rr]")
        arr = np.asarray(trees, dtype=np.float64).reshape(len(trees), 10)
        self.bias = bias
        self.feature_names = feature_names
        self.f0 = arr[:, 0].astype(np.intp)
        self.t0 = arr[:, 1].copy()
        self.fl = arr[:, 2].astype(np.intp)
        self.tl = arr[:, 3].copy()
        self.fr = arr[:, 4].astype(np.intp)
        self.tr = arr[:, 5].copy()
        self.v = arr[:, 6:10].copy()

    def logits(self, xs: FloatArray) -> FloatArray:
        """Log-odds of many vectors (rows of ``xs``)."""
        root = xs[:, self.f0] <= self.t0
        second = np.where(root, xs[:, self.fl] <= self.tl, xs[:, self.fr] <= self.tr)
        leaf = np.where(root, 0, 2) + np.where(second, 0, 1)
        vals = np.take_along_axis(
            np.broadcast_to(self.v, (xs.shape[0], *self.v.shape)), leaf[:, :, None], axis=2
        )[:, :, 0]
        out: FloatArray = self.bias + vals.sum(axis=1)
        return out

    def logit(self, x: list[float]) -> float:
        v = np.asarray(x, dtype=np.float64)
        root = v[self.f0] <= self.t0
        second = np.where(root, v[self.fl] <= self.tl, v[self.fr] <= self.tr)
        leaf = np.where(root, 0, 2) + np.where(second, 0, 1)
        return self.bias + float(self.v[np.arange(leaf.size), leaf].sum())

    def probability(self, x: list[float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> dict[str, Any]:
        trees = [
            [int(self.f0[k]), float(self.t0[k]), int(self.fl[k]), float(self.tl[k])]
            + [int(self.fr[k]), float(self.tr[k])]
            + [float(x) for x in self.v[k]]
            for k in range(self.f0.size)
        ]
        return {"feature_names": list(self.feature_names), "bias": self.bias, "trees": trees}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeModel:
        return cls(
            bias=float(data["bias"]),
            trees=[[float(v) for v in t] for t in data["trees"]],
            feature_names=tuple(data["feature_names"]),
        )


def _best_split(
    bins: npt.NDArray[np.intp],
    nbins: list[int],
    g: FloatArray,
    h: FloatArray,
    l2: float,
) -> tuple[float, int, int]:
    """(gain, feature, bin) of the best single split of these rows (-1 if none)."""
    gt, ht = g.sum(), h.sum()
    best = (0.0, -1, -1)
    for j, nb in enumerate(nbins):
        if nb == 0:
            continue
        gl = np.cumsum(np.bincount(bins[:, j], g, minlength=nb + 1))[:nb]
        hl = np.cumsum(np.bincount(bins[:, j], h, minlength=nb + 1))[:nb]
        gain = gl**2 / (hl + l2) + (gt - gl) ** 2 / (ht - hl + l2) - gt**2 / (ht + l2)
        b = int(np.argmax(gain))
        if gain[b] > best[0]:
            best = (float(gain[b]), j, b)
    return best


def fit_trees(
    x: FloatArray,
    y: npt.NDArray[np.float64],
    w: FloatArray,
    *,
    rounds: int = 150,
    learning_rate: float = 0.1,
    n_bins: int = 32,
    l2: float = 1.0,
) -> TreeModel:
    """Fit boosted depth-2 trees to rows ``x`` with labels ``y`` (1 = not a person) and
    row weights ``w`` (the training script gives each clip the same total weight)."""
    n, d = x.shape
    w = w / w.sum() * n
    edges: list[FloatArray] = []
    bins = np.empty((n, d), dtype=np.intp)
    for j in range(d):
        qs = np.unique(np.quantile(x[:, j], np.linspace(0, 1, n_bins + 1)[1:-1]))
        edges.append(qs)
        bins[:, j] = np.searchsorted(qs, x[:, j], side="left")  # x <= qs[b] -> bin <= b
    nbins = [e.size for e in edges]
    pos = float(np.sum(w * y)) / float(np.sum(w))
    pos = min(max(pos, 1e-3), 1 - 1e-3)
    bias = math.log(pos / (1 - pos))
    f = np.full(n, bias)
    trees: list[list[float]] = []
    for _ in range(rounds):
        p = 1.0 / (1.0 + np.exp(-f))
        g = (p - y) * w
        h = np.maximum(p * (1 - p), 1e-6) * w
        _, j0, b0 = _best_split(bins, nbins, g, h, l2)
        if j0 < 0:
            break
        root = bins[:, j0] <= b0
        tree: list[float] = [j0, float(edges[j0][b0])]
        leaves = []
        for side in (root, ~root):
            _, j1, b1 = _best_split(bins[side], nbins, g[side], h[side], l2)
            if j1 < 0:  # no useful split: both leaves equal
                j1, b1 = j0, b0
            sub = side & (bins[:, j1] <= b1)
            rest = side & ~(bins[:, j1] <= b1)
            tree += [j1, float(edges[j1][b1])]
            for part in (sub, rest):
                val = -learning_rate * g[part].sum() / (h[part].sum() + l2)
                leaves.append(float(val))
                f[part] += val
        trees.append(tree + leaves)
    return TreeModel(bias=bias, trees=trees)


def load_shipped() -> tuple[TreeModel, PolicyParams]:
    """The model and policy shipped in this package (written by benchmarks/amd_train.py)."""
    text = resources.files("telephony.amd").joinpath(MODEL_RESOURCE).read_text("utf-8")
    data = json.loads(text)
    return TreeModel.from_json(data["model"]), PolicyParams(**data["policy"])
