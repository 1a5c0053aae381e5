"""Fixed-ratio pacing: a constant number of unreserved calls in flight per ready agent.

This is VICIdial's ``RATIO`` dial method (a fixed ``auto_dial_level``, no adaptation):
the dialer keeps ``ceil(dial_level * ready)`` calls ringing or waiting for the agents
who are ready now. It is the classic baseline that the adaptive pacers must beat: a
level too low leaves agents idle, a level too high abandons people.

Invariants: the decision never asks for a negative count, never more than the free
lines, and nothing once the leads have run out (``cap_dials``).
"""

from __future__ import annotations

import math

from pacing.base import Observation, PacingDecision, PacingSnapshot, cap_dials

# Keeps a product that is an integer up to float noise (2.0 * 3 agents) from being
# rounded up to one more call by ``ceil``.
_CEIL_SLACK = 1e-9


class RatioPacer:
    """Keep ``ceil(dial_level * ready)`` unreserved calls in flight.

    ``dial_level``: calls per ready agent (a ratio, at least 1: below one call per
    agent the dialer would idle agents on purpose).
    """

    name: str = "ratio"

    def __init__(self, *, dial_level: float = 2.0) -> None:
        if not math.isfinite(dial_level) or dial_level < 1.0:
            raise ValueError(
                f"dial_level must be a finite number of calls per ready agent >= 1, "
                f"got {dial_level!r}"
            )
        self.dial_level = dial_level

    def observe(self, obs: Observation) -> None:
        """Nothing to learn: a fixed ratio does not adapt."""

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        target = math.ceil(self.dial_level * snapshot.ready - _CEIL_SLACK)
        # Unreserved calls already working for the ready agents: those still ringing or
        # under detection, and detected people waiting for an agent.
        in_flight = len(snapshot.pending_ages) + snapshot.waiting
        wanted = target - in_flight
        dials = cap_dials(wanted, snapshot)
        return PacingDecision(
            dials=dials,
            explain={
                "dial_level": self.dial_level,
                "ready": snapshot.ready,
                "target": target,
                "in_flight": in_flight,
                "wanted": wanted,
                "dials": dials,
            },
        )
