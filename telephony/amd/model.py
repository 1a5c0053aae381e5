"""A small gradient-boosted stump model in numpy, and its JSON form.

Logistic loss, one-split trees (stumps) fitted by Newton steps on histogram bins
(Friedman 2001, "Greedy function approximation"; the second-order split gain as in
XGBoost, Chen & Guestrin 2016). The model outputs the log-odds that a call is *not* a
person (a machine, or a network announcement or music); ``probability`` maps it to 0..1.
Scoring one vector is one numpy ``where`` and one sum, a few microseconds.

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


class StumpModel:
    """Sum of stumps: ``bias + sum(left if x[f] <= thr else right)`` = log-odds."""

    __slots__ = ("bias", "feat", "feature_names", "left", "right", "thr")

    def __init__(
        self,
        *,
        bias: float,
        feat: list[int],
        thr: list[float],
        left: list[float],
        right: list[float],
        feature_names: tuple[str, ...] = FEATURE_NAMES,
    ) -> None:
        if not len(feat) == len(thr) == len(left) == len(right):
            raise ValueError("stump lists must have the same length")
        if feature_names != FEATURE_NAMES:
            raise ValueError(
                f"model was trained on features {feature_names}, the detector computes "
                f"{FEATURE_NAMES}: retrain with python -m benchmarks.amd_train"
            )
        self.bias = bias
        self.feature_names = feature_names
        self.feat = np.asarray(feat, dtype=np.intp)
        self.thr = np.asarray(thr, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.float64)
        self.right = np.asarray(right, dtype=np.float64)

    def logit(self, x: list[float]) -> float:
        v = np.asarray(x, dtype=np.float64)[self.feat]
        return self.bias + float(np.where(v <= self.thr, self.left, self.right).sum())

    def probability(self, x: list[float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def logits(self, xs: FloatArray) -> FloatArray:
        """Log-odds of many vectors (rows of ``xs``)."""
        cols = xs[:, self.feat]
        out: FloatArray = self.bias + np.where(cols <= self.thr, self.left, self.right).sum(axis=1)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "bias": self.bias,
            "stumps": [
                [int(f), float(t), float(lv), float(rv)]
                for f, t, lv, rv in zip(self.feat, self.thr, self.left, self.right, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StumpModel:
        stumps = data["stumps"]
        return cls(
            bias=float(data["bias"]),
            feat=[int(s[0]) for s in stumps],
            thr=[float(s[1]) for s in stumps],
            left=[float(s[2]) for s in stumps],
            right=[float(s[3]) for s in stumps],
            feature_names=tuple(data["feature_names"]),
        )


def fit_stumps(
    x: FloatArray,
    y: npt.NDArray[np.float64],
    w: FloatArray,
    *,
    rounds: int = 150,
    learning_rate: float = 0.1,
    n_bins: int = 32,
    l2: float = 1.0,
) -> StumpModel:
    """Fit boosted stumps to rows ``x`` with labels ``y`` (1 = not a person) and row
    weights ``w`` (the training script gives each clip the same total weight)."""
    n, d = x.shape
    w = w / w.sum() * n
    edges: list[FloatArray] = []
    bins = np.empty((n, d), dtype=np.intp)
    for j in range(d):
        qs = np.unique(np.quantile(x[:, j], np.linspace(0, 1, n_bins + 1)[1:-1]))
        edges.append(qs)
        bins[:, j] = np.searchsorted(qs, x[:, j], side="left")  # x <= qs[b] -> bin <= b
    pos = float(np.sum(w * y)) / float(np.sum(w))
    pos = min(max(pos, 1e-3), 1 - 1e-3)
    bias = math.log(pos / (1 - pos))
    f = np.full(n, bias)
    feats: list[int] = []
    thrs: list[float] = []
    lefts: list[float] = []
    rights: list[float] = []
    for _ in range(rounds):
        p = 1.0 / (1.0 + np.exp(-f))
        g = (p - y) * w
        h = np.maximum(p * (1 - p), 1e-6) * w
        gt, ht = g.sum(), h.sum()
        best = (0.0, -1, -1)
        for j in range(d):
            nb = edges[j].size
            if nb == 0:
                continue
            gl = np.cumsum(np.bincount(bins[:, j], g, minlength=nb + 1))[:nb]
            hl = np.cumsum(np.bincount(bins[:, j], h, minlength=nb + 1))[:nb]
            gain = gl**2 / (hl + l2) + (gt - gl) ** 2 / (ht - hl + l2) - gt**2 / (ht + l2)
            b = int(np.argmax(gain))
            if gain[b] > best[0]:
                best = (float(gain[b]), j, b)
        _, j, b = best
        if j < 0:
            break
        mask = bins[:, j] <= b
        gl, hl = g[mask].sum(), h[mask].sum()
        lv = -learning_rate * gl / (hl + l2)
        rv = -learning_rate * (gt - gl) / (ht - hl + l2)
        f += np.where(mask, lv, rv)
        feats.append(j)
        thrs.append(float(edges[j][b]))
        lefts.append(float(lv))
        rights.append(float(rv))
    return StumpModel(bias=bias, feat=feats, thr=thrs, left=lefts, right=rights)


def load_shipped() -> tuple[StumpModel, PolicyParams]:
    """The model and policy shipped in this package (written by benchmarks/amd_train.py)."""
    text = resources.files("telephony.amd").joinpath(MODEL_RESOURCE).read_text("utf-8")
    data = json.loads(text)
    return StumpModel.from_json(data["model"]), PolicyParams(**data["policy"])
