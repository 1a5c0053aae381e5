"""Scoring detector verdicts against corpus labels (pure).

Definitions (the keys of ``dialer amd evaluate --json``):
- ``accuracy``: share of human and machine clips whose verdict equals the label
  ("not sure" counts as wrong);
- ``human_as_machine_rate``: share of human clips sent away from an agent (verdict
  machine, fax or SIT): each one is a person hung up on, an abandoned call;
- ``machine_as_human_rate``: share of machine clips called human;
- ``median_decision_s`` / ``p95_decision_s``: seconds of audio from the answer to the
  verdict, over human and machine clips;
- ``per_label``: per true label, n, recall and the verdict counts;
- ``per_tag``: per hard-case tag (and ``untagged``), n and accuracy on its human and
  machine clips, with its human-as-machine count;
- ``n``: clips scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_AWAY = frozenset({"machine", "fax", "sit"})


@dataclass(frozen=True, slots=True)
class Scored:
    """One clip: its true label, hard-case tags, the verdict and its time (s)."""

    clip: str
    label: str
    tags: tuple[str, ...]
    verdict: str
    at_s: float


def _pct(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), q)) if xs else 0.0


def score(rows: Sequence[Scored]) -> dict[str, Any]:
    hm = [r for r in rows if r.label in ("human", "machine")]
    humans = [r for r in hm if r.label == "human"]
    machines = [r for r in hm if r.label == "machine"]
    correct = sum(r.verdict == r.label for r in hm)
    times = [r.at_s for r in hm]
    per_label: dict[str, Any] = {}
    for label in sorted({r.label for r in rows}):
        sub = [r for r in rows if r.label == label]
        per_label[label] = {
            "n": len(sub),
            "recall": round(sum(r.verdict == label for r in sub) / len(sub), 4),
            "verdicts": dict(sorted(Counter(r.verdict for r in sub).items())),
        }
    tags = sorted({t for r in rows for t in r.tags} | {"untagged"})
    per_tag: dict[str, Any] = {}
    for tag in tags:
        sub = [r for r in rows if (tag in r.tags) or (tag == "untagged" and not r.tags)]
        sub_hm = [r for r in sub if r.label in ("human", "machine")]
        per_tag[tag] = {
            "n": len(sub),
            "n_human_machine": len(sub_hm),
            "accuracy": round(sum(r.verdict == r.label for r in sub_hm) / len(sub_hm), 4)
            if sub_hm
            else None,
            "human_as_machine": sum(r.label == "human" and r.verdict in _AWAY for r in sub_hm),
        }
    return {
        "accuracy": round(correct / len(hm), 4) if hm else 0.0,
        "human_as_machine_rate": round(sum(r.verdict in _AWAY for r in humans) / len(humans), 4)
        if humans
        else 0.0,
        "machine_as_human_rate": round(
            sum(r.verdict == "human" for r in machines) / len(machines), 4
        )
        if machines
        else 0.0,
        "median_decision_s": round(_pct(times, 50), 3),
        "p95_decision_s": round(_pct(times, 95), 3),
        "per_label": per_label,
        "per_tag": per_tag,
        "n": len(rows),
    }
