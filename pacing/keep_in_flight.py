"""``KeepInFlightPacer``: keeps ``n`` calls placed and not yet with an agent, whatever
the floor does. Not a production pacer (it ignores agents and abandons): a fixed,
predictable load for the AMI benchmark and the runner's and adapter's tests."""

from __future__ import annotations

import math

from pacing.base import Observation, PacingDecision, PacingSnapshot, cap_dials


class KeepInFlightPacer:
    name = "keep-in-flight"

    def __init__(self, n: int) -> None:
        if n < 0:
            raise ValueError("n: must be >= 0 calls")
        self.n = n

    def observe(self, obs: Observation) -> None:
        pass

    def next_decision_at(self) -> float:
        return -math.inf  # decide on every tick

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        return PacingDecision(cap_dials(max(0, self.n - snapshot.in_flight), snapshot))
