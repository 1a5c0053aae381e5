"""Progressive pacing: one call per ready agent, reserved for that agent.

Invariants: ``dials`` equals ``len(for_agents)``; the agents named are the longest-idle
ready agents (``snapshot.ready_agents`` is ordered longest idle first), each named at
most once. The runner routes a reserved call's person to its own agent, so this mode
cannot abandon a call by construction: it trades agent idle time (the agent waits
through the ringing) for zero abandons and respected lead ownership.
"""

from __future__ import annotations

import math

from pacing.base import Observation, PacingDecision, PacingSnapshot, cap_dials


class ProgressivePacer:
    """Dial exactly one call for each ready, unreserved agent."""

    name: str = "progressive"

    def observe(self, obs: Observation) -> None:
        """Nothing to learn: the dial count depends on the current snapshot only."""

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        dials = cap_dials(snapshot.ready, snapshot)
        # Longest idle first, so that when lines are short the agent who has waited
        # longest gets the next call (the fairness rule most ACDs use).
        agents = snapshot.ready_agents[:dials]
        return PacingDecision(
            dials=dials,
            for_agents=agents,
            explain={"ready": snapshot.ready, "dials": dials},
        )
