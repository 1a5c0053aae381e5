"""Property: ``next_eligible`` is exact.

For random leads (phones in zones with and without DST, attempts of every outcome,
conversations, DNC, callbacks with and without an owner, promises) and random moments
(many near DST changes and holidays): when ``next_eligible`` is not None, ``evaluate``
allows at it, and no earlier moment in between does: checked at every minute boundary
when the gap is short, and at the minute just before it, at every rule's ``until`` and
at a random sample of minute boundaries otherwise.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome
from rules import (
    AttemptFact,
    CallbackFact,
    CallingWindows,
    ContactPolicy,
    LeadFacts,
    PhoneFacts,
    PolicySettings,
    PromiseFact,
)

ZONES = [
    ("US", "America/New_York"),
    ("US", "America/Los_Angeles"),
    ("MX", "America/Monterrey"),
    ("CO", "America/Bogota"),
    ("PE", "America/Lima"),
    ("CL", "America/Santiago"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("ES", "Europe/Madrid"),
    ("JP", "Asia/Tokyo"),  # no default: the fallback windows
]
# Moments near the 2026 DST changes (US, Spain, Chile) and Colombian/Spanish holidays.
ANCHORS = [
    datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 9, 6, 3, 0, tzinfo=UTC),
    datetime(2026, 4, 5, 2, 0, tzinfo=UTC),
    datetime(2026, 1, 12, 12, 0, tzinfo=UTC),
    datetime(2026, 12, 24, 22, 0, tzinfo=UTC),
    datetime(2026, 6, 12, 23, 0, tzinfo=UTC),
]
AGENTS = [AgentId("ana"), AgentId("ben")]
CAMPAIGN_WINDOWS = [
    None,
    # An evening shift (crosses 22:00 in some countries, so the intersection matters).
    CallingWindows.weekly({d: [("17:00", "23:30")] for d in range(7)}, source="evening"),
    # A split day, and windows inside the US DST change hours (01:00-03:00).
    CallingWindows.weekly(
        {d: [("01:15", "02:45"), ("09:00", "12:00"), ("14:00", "18:00")] for d in range(7)},
        closed_on_holidays=True,
        source="split",
    ),
]

moments = st.one_of(
    st.builds(
        lambda a, m: a + timedelta(minutes=m),
        st.sampled_from(ANCHORS),
        st.integers(-3 * 24 * 60, 3 * 24 * 60),
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2026, 12, 31),
        timezones=st.just(UTC),
    ),
)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[LeadFacts, PhoneFacts, datetime, AgentId | None, CallingWindows | None]:
    at = draw(moments)
    n_phones = draw(st.integers(1, 2))
    phones = tuple(
        PhoneFacts(
            f"1555000{i:04d}",
            *draw(st.sampled_from(ZONES)),
            # A number whose location is uncertain (Reg F: fit every candidate zone).
            other_time_zones=draw(st.sampled_from([(), (), ("America/Chicago",)])),
        )
        for i in range(n_phones)
    )
    numbers = [p.number for p in phones]
    attempts = tuple(
        AttemptFact(
            draw(st.sampled_from(numbers)),
            at - timedelta(minutes=draw(st.integers(-120, 8 * 24 * 60))),
            draw(st.sampled_from(list(AttemptOutcome))),
            conversation=draw(st.booleans()) and draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 10)))
    )
    dnc = frozenset(n for n in numbers if draw(st.integers(0, 9)) == 9)
    callbacks = tuple(
        CallbackFact(
            at + timedelta(minutes=draw(st.integers(-600, 3 * 24 * 60))),
            draw(st.sampled_from([None, *AGENTS])),
            agreed_at=draw(st.sampled_from([None, at - timedelta(hours=1)])),
        )
        for _ in range(draw(st.integers(0, 1)))
    )
    promises = tuple(
        PromiseFact(
            Decimal("100"),
            (at + timedelta(days=draw(st.integers(-3, 4)))).date(),
            draw(st.sampled_from(["pending", "kept"])),
        )
        for _ in range(draw(st.integers(0, 1)))
    )
    lead = LeadFacts(LeadId("P"), phones, attempts, dnc=dnc, promises=promises, callbacks=callbacks)
    reserved = draw(st.sampled_from([None, *AGENTS]))
    windows = draw(st.sampled_from(CAMPAIGN_WINDOWS))
    return lead, draw(st.sampled_from(phones)), at, reserved, windows


POLICIES = [
    ContactPolicy(),
    ContactPolicy(PolicySettings(max_per_phone_per_day=1, lead_min_gap=timedelta(minutes=10))),
    ContactPolicy(PolicySettings(campaign_mode="replace", hold_for_callbacks=False)),
]


def _minute_after(t: datetime) -> datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(minutes=1)


@settings(
    max_examples=int(os.environ.get("RULES_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios(), st.sampled_from(POLICIES), st.randoms(use_true_random=False))
def test_next_eligible_is_allowed_and_nothing_earlier_is(
    scenario: tuple[LeadFacts, PhoneFacts, datetime, AgentId | None, CallingWindows | None],
    policy: ContactPolicy,
    rnd: random.Random,
) -> None:
    lead, phone, at, reserved, windows = scenario

    def allowed(t: datetime) -> bool:
        return policy.is_allowed(lead, phone, at=t, reserved_for=reserved, campaign_windows=windows)

    verdict = policy.evaluate(lead, phone, at=at, reserved_for=reserved, campaign_windows=windows)
    nxt = verdict.next_eligible
    assert verdict.allowed == (nxt == at)
    if nxt is None:
        # Never: some failed rule says so, or nothing opens within the horizon.
        return
    assert nxt >= at
    assert allowed(nxt)
    again = policy.evaluate(lead, phone, at=nxt, reserved_for=reserved, campaign_windows=windows)
    assert again.allowed and again.next_eligible == nxt
    if nxt == at:
        return
    # Candidate earlier moments: every minute boundary if few, else the interesting ones.
    minutes = int((nxt - at).total_seconds() // 60)
    probes: set[datetime] = {at, nxt - timedelta(seconds=1)}
    first = _minute_after(at)
    if minutes <= 3000:
        probes.update(first + timedelta(minutes=i) for i in range(minutes + 1))
    else:
        probes.update(first + timedelta(minutes=rnd.randrange(minutes)) for _ in range(400))
        probes.update(
            c.until - timedelta(minutes=1)
            for c in verdict.checks
            if c.until is not None and at < c.until - timedelta(minutes=1)
        )
    for t in sorted(p for p in probes if at <= p < nxt):
        assert not allowed(t), f"allowed at {t} before next_eligible {nxt}"


def test_next_eligible_across_the_us_spring_forward_night() -> None:
    # Deterministic companion: Saturday 2026-03-07 21:00 EST -> Sunday 08:00 EDT.
    phone = PhoneFacts("12125550100", "US", "America/New_York")
    lead = LeadFacts(LeadId("P"), (phone,), ())
    at = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)
    assert ContactPolicy().next_eligible(lead, phone, after=at) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )
    assert date(2026, 3, 8).weekday() == 6
