"""Contact-policy speed: verdicts per second on a synthetic portfolio.

Each lead has two phones in one of seven countries' zones and 0-12 dials spread over the
last eight days (outcomes drawn from a collections-like mix, a few conversations), some
callbacks and promises; moments are drawn over a year (DST changes included). Measures
``evaluate`` (the full verdict with next-eligible search) and ``is_allowed`` (the claim-time
check only), single-threaded.

    python -m benchmarks.rules [--leads N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome
from rules import (
    AttemptFact,
    CallbackFact,
    ContactPolicy,
    LeadFacts,
    PhoneFacts,
    PromiseFact,
)

ZONES = [
    ("US", "America/New_York"),
    ("US", "America/Chicago"),
    ("MX", "America/Mexico_City"),
    ("CO", "America/Bogota"),
    ("PE", "America/Lima"),
    ("CL", "America/Santiago"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("ES", "Europe/Madrid"),
]
OUTCOMES = [
    (AttemptOutcome.NO_ANSWER, 40),
    (AttemptOutcome.MACHINE, 25),
    (AttemptOutcome.BUSY, 8),
    (AttemptOutcome.CONNECTED, 12),
    (AttemptOutcome.FAILED, 6),
    (AttemptOutcome.ABANDONED, 2),
    (AttemptOutcome.HUNG_UP_IN_DETECTION, 4),
    (AttemptOutcome.SIT, 3),
]


def portfolio(n: int, rnd: random.Random) -> list[tuple[LeadFacts, PhoneFacts, datetime]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    outcomes, weights = zip(*OUTCOMES, strict=True)
    for i in range(n):
        country, zone = rnd.choice(ZONES)
        phones = tuple(PhoneFacts(f"{i:08d}{k}", country, zone) for k in range(2))
        at = start + timedelta(minutes=rnd.randrange(365 * 24 * 60))
        attempts = []
        for _ in range(rnd.randrange(13)):
            outcome = rnd.choices(outcomes, weights)[0]
            attempts.append(
                AttemptFact(
                    rnd.choice(phones).number,
                    at - timedelta(minutes=rnd.randrange(8 * 24 * 60)),
                    outcome,
                    conversation=outcome is AttemptOutcome.CONNECTED and rnd.random() < 0.5,
                )
            )
        callbacks = (
            (CallbackFact(at + timedelta(hours=rnd.randrange(-24, 48)), AgentId("a1")),)
            if rnd.random() < 0.05
            else ()
        )
        promises = (
            (
                PromiseFact(
                    Decimal("100"), (at + timedelta(days=rnd.randrange(-3, 5))).date(), "pending"
                ),
            )
            if rnd.random() < 0.1
            else ()
        )
        lead = LeadFacts(
            LeadId(f"L{i}"), phones, tuple(attempts), promises=promises, callbacks=callbacks
        )
        out.append((lead, phones[0], at))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cases = portfolio(args.leads, random.Random(args.seed))
    policy = ContactPolicy()
    t0 = time.perf_counter()
    allowed = sum(policy.is_allowed(lead, phone, at=at) for lead, phone, at in cases)
    t1 = time.perf_counter()
    verdicts = [policy.evaluate(lead, phone, at=at) for lead, phone, at in cases]
    t2 = time.perf_counter()
    never = sum(v.next_eligible is None for v in verdicts)
    n = len(cases)
    print(f"leads: {n}, allowed now: {allowed} ({allowed / n:.1%}), never: {never}")
    print(f"is_allowed: {n / (t1 - t0):,.0f}/s ({(t1 - t0) / n * 1e6:.0f} us each)")
    print(f"evaluate:   {n / (t2 - t1):,.0f}/s ({(t2 - t1) / n * 1e6:.0f} us each)")


if __name__ == "__main__":
    main()
