"""The baseline pacers: progressive, fixed ratio, and VICIdial's ADAPT_TAPERED.

Synchronous tests on explicit snapshots (time is an argument), plus Hypothesis
properties over random snapshots for the invariants every pacer owes the runner.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ids import AgentId
from pacing.base import (
    DialResolved,
    FloatArray,
    LiveCallRouted,
    Pacer,
    PacingDecision,
    PacingSnapshot,
    SpellEnded,
)
from pacing.progressive import ProgressivePacer
from pacing.ratio import RatioPacer
from pacing.registry import PACERS, make_pacer
from pacing.vicidial import VicidialAdaptivePacer, hhmm, taper_rate

TZ = ZoneInfo("America/Monterrey")
MORNING = datetime(2024, 5, 6, 10, 0, tzinfo=TZ)


def agents(n: int, start: int = 0) -> tuple[AgentId, ...]:
    return tuple(AgentId(f"a{i}") for i in range(start, start + n))


def ages(*values: float) -> FloatArray:
    return np.array(values, dtype=np.float64)


def snap(
    now: float = 0.0,
    *,
    ready: int | tuple[AgentId, ...] = 0,
    wall: datetime = MORNING,
    talking: int = 0,
    wrapping: int = 0,
    pending: int | FloatArray = 0,
    reserved_agents: int = 0,
    reserved_pending: int = 0,
    waiting: int = 0,
    connected: int = 0,
    logged_in: int = 0,
    lines_free: int = 1_000_000,
    leads_exhausted: bool = False,
    abandon_target: float = 0.03,
) -> PacingSnapshot:
    """A snapshot from counts: ``ready``/``talking``/``wrapping`` agents, ``pending`` calls."""
    ready_agents = agents(ready) if isinstance(ready, int) else ready
    pending_ages = ages(*([1.0] * pending)) if isinstance(pending, int) else pending
    return PacingSnapshot(
        now=now,
        wall=wall,
        ready_agents=ready_agents,
        talk_elapsed=ages(*([30.0] * talking)),
        wrapup_elapsed=ages(*([5.0] * wrapping)),
        reserved_agents=reserved_agents,
        logged_in=logged_in,
        pending_ages=pending_ages,
        reserved_pending=reserved_pending,
        waiting=waiting,
        connected=connected,
        lines_free=lines_free,
        leads_exhausted=leads_exhausted,
        abandon_target=abandon_target,
    )


# --- progressive ------------------------------------------------------------------


def test_progressive_reserves_one_call_per_ready_agent_longest_idle_first() -> None:
    longest_first = (AgentId("carla"), AgentId("ana"), AgentId("beto"))
    decision = ProgressivePacer().decide(snap(ready=longest_first, lines_free=2))
    assert decision.dials == 2
    assert decision.for_agents == (AgentId("carla"), AgentId("ana"))
    assert decision.explain == {"ready": 3, "dials": 2}


def test_progressive_dials_all_ready_agents_when_lines_allow() -> None:
    decision = ProgressivePacer().decide(snap(ready=4, talking=3, pending=2))
    assert decision.dials == 4
    assert decision.for_agents == agents(4)


@pytest.mark.parametrize(("lines_free", "exhausted"), [(0, False), (10, True), (0, True)], ids=str)
def test_progressive_never_dials_without_lines_or_leads(lines_free: int, exhausted: bool) -> None:
    decision = ProgressivePacer().decide(
        snap(ready=5, lines_free=lines_free, leads_exhausted=exhausted)
    )
    assert decision.dials == 0
    assert decision.for_agents == ()


def test_progressive_ignores_observations() -> None:
    pacer = ProgressivePacer()
    pacer.observe(DialResolved(placed_at=0.0, at=3.0, live=True, reserved=True))
    pacer.observe(SpellEnded(kind="talk", duration=90.0, at=93.0))
    assert pacer.decide(snap(ready=1)).dials == 1


# --- ratio ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dial_level", "ready", "pending", "waiting", "expected"),
    [
        (2.0, 3, 0, 0, 6),  # 2 x 3, nothing in flight
        (2.0, 3, 4, 1, 1),  # 6 wanted, 5 in flight
        (1.5, 3, 0, 0, 5),  # ceil(4.5)
        (2.0, 3, 7, 0, 0),  # more than wanted in flight: never negative
        (1.1, 10, 0, 0, 11),  # 11.000000000000002 must not become 12
        (2.0, 0, 0, 0, 0),  # nobody ready
    ],
)
def test_ratio_arithmetic(
    dial_level: float, ready: int, pending: int, waiting: int, expected: int
) -> None:
    decision = RatioPacer(dial_level=dial_level).decide(
        snap(ready=ready, pending=pending, waiting=waiting)
    )
    assert decision.dials == expected
    assert decision.for_agents == ()


def test_ratio_does_not_count_reserved_calls_or_busy_agents() -> None:
    decision = RatioPacer(dial_level=2.0).decide(
        snap(ready=2, reserved_pending=3, talking=5, connected=5)
    )
    assert decision.dials == 4


def test_ratio_is_capped_by_lines_and_leads() -> None:
    pacer = RatioPacer(dial_level=3.0)
    assert pacer.decide(snap(ready=4, lines_free=5)).dials == 5
    assert pacer.decide(snap(ready=4, leads_exhausted=True)).dials == 0


@pytest.mark.parametrize("level", [0.99, 0.0, -1.0, float("nan"), float("inf")])
def test_ratio_rejects_a_dial_level_below_one(level: float) -> None:
    with pytest.raises(ValueError, match="dial_level"):
        RatioPacer(dial_level=level)


# --- VICIdial ADAPT_TAPERED ------------------------------------------------------


def test_vicidial_goal_counts_ready_reserved_and_talking_agents_not_wrapup() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=1.5)
    decision = pacer.decide(
        snap(
            ready=2,
            reserved_agents=1,
            talking=4,
            wrapping=6,
            pending=2,
            reserved_pending=1,
            waiting=1,
            connected=4,
        )
    )
    # goal = round(1.5 x (2 + 1 + 4)) = round(10.5) = 10 (half to even, like %.0f);
    # calls up = ringing (2 + 1) + waiting 1 + talking 4 = 8.
    assert decision.explain["goal"] == 10
    assert decision.explain["make"] == 2
    assert decision.dials == 2


def test_vicidial_places_every_two_and_a_half_seconds() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    assert pacer.decide(snap(100.0, ready=3)).dials == 6  # the first decision places at once
    for now in (100.25, 101.0, 101.5, 102.0, 102.45):
        decision = pacer.decide(snap(now, ready=3))
        assert decision.dials == 0
        assert decision.explain["placing"] == 0
    assert pacer.decide(snap(102.5, ready=3)).dials == 6
    # A late tick places once and the grid holds: 105.1 places, the next is 107.5.
    assert pacer.decide(snap(105.1, ready=3)).dials == 6
    assert pacer.decide(snap(107.4, ready=3)).dials == 0
    assert pacer.decide(snap(107.5, ready=3)).dials == 6


def test_vicidial_make_subtracts_calls_already_up() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    decision = pacer.decide(snap(ready=3, pending=5, waiting=2))
    assert decision.explain["make"] == -1
    assert decision.dials == 0


def test_vicidial_fifteen_second_update_uses_the_last_fifteen_samples() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=1.5)
    # t = 0 is sampled but falls out of the window by t = 15 (16 samples, 15 kept).
    pacer.decide(snap(0.0, ready=9, waiting=0, logged_in=40))
    ready_by_second = [4] * 5 + [1] * 10  # t = 1..15: mean 30 / 15 = 2
    waiting_by_second = [5] * 3 + [0] * 12  # mean 15 / 15 = 1
    for second in range(1, 15):
        decision = pacer.decide(
            snap(
                float(second),
                ready=ready_by_second[second - 1],
                waiting=waiting_by_second[second - 1],
                logged_in=10,
            )
        )
        assert decision.explain["dial_level"] == 1.5
    decision = pacer.decide(snap(15.0, ready=1, waiting=0, logged_in=10))
    # diff = 2 - 1 = 1; mean logged in = 10; DL = 1.5 x (1 + 1 / 10) = 1.65.
    assert decision.explain["diff"] == pytest.approx(1.0)
    assert decision.explain["dial_level"] == pytest.approx(1.65)


def test_vicidial_queued_people_lower_the_dial_level() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    for second in range(16):
        decision = pacer.decide(snap(float(second), ready=0, waiting=2, logged_in=8))
    # diff = 0 - 2; DL = 2 x (1 - 2 / 8) = 1.5.
    assert decision.explain["dial_level"] == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("initial", "ready", "waiting", "expected"),
    [
        (2.9, 10, 0, 3.0),  # 2.9 x (1 + 10/10) = 5.8, capped at 3
        (1.1, 0, 10, 1.0),  # 1.1 x (1 - 10/10) = 0, floored at 1
    ],
)
def test_vicidial_dial_level_is_clamped_to_one_and_three(
    initial: float, ready: int, waiting: int, expected: float
) -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=initial)
    for second in range(16):
        decision = pacer.decide(snap(float(second), ready=ready, waiting=waiting, logged_in=10))
    assert decision.explain["dial_level"] == expected


def test_vicidial_dial_level_holds_without_logged_in_agents() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    for second in range(31):
        decision = pacer.decide(snap(float(second), ready=3, logged_in=0))
    assert decision.explain["dial_level"] == 2.0


def _shift_with_a_burst(
    pacer: VicidialAdaptivePacer, *, talking: int, drops: int, answers: int, wall: datetime
) -> PacingDecision:
    """Place one burst at t = 2.5 (busy agents, nobody ready or waiting, so the 15 s
    differential stays 0), record the outcomes, and run to the 60 s drop check."""
    initial = pacer.dial_level
    pacer.decide(snap(0.0, logged_in=talking, wall=wall))
    burst = pacer.decide(snap(2.5, talking=talking, logged_in=talking, wall=wall))
    assert burst.dials > 0
    for i in range(answers):
        pacer.observe(DialResolved(placed_at=2.5, at=8.0 + i * 0.01, live=True))
    for i in range(drops):
        pacer.observe(LiveCallRouted(at=10.0 + i * 0.01, abandoned=True, wait=2.0))
    before = pacer.decide(snap(59.9, logged_in=talking, wall=wall))
    assert before.explain["dial_level"] == initial
    return pacer.decide(snap(60.0, logged_in=talking, wall=wall))


def test_vicidial_halves_when_more_than_half_of_the_last_minute_dropped() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=3.0)
    # 10 busy agents at DL 3 -> 30 calls in the minute; 16 dropped = 53% > 50%.
    decision = _shift_with_a_burst(pacer, talking=10, drops=16, answers=20, wall=MORNING)
    assert pacer.calls_today == 30
    assert decision.explain["dial_level"] == pytest.approx(1.5)


def test_vicidial_does_not_halve_at_exactly_half() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=3.0)
    # 15 / 30 is not more than 50%; 30 calls today is under the 50-call floor.
    decision = _shift_with_a_burst(pacer, talking=10, drops=15, answers=20, wall=MORNING)
    assert decision.explain["dial_level"] == 3.0


def test_vicidial_minute_rule_needs_more_than_twenty_calls() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    # 10 agents at DL 2 -> 20 calls: not more than 20, so 15 drops do not halve.
    decision = _shift_with_a_burst(pacer, talking=10, drops=15, answers=20, wall=MORNING)
    assert decision.explain["dial_level"] == 2.0


def test_vicidial_tapers_by_time_of_day_when_over_the_drop_target() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    afternoon = datetime(2024, 5, 6, 15, 30, tzinfo=TZ)
    # 30 agents at DL 2 -> 60 calls today (> 50); 1 drop over 20 answers = 5% > 3%.
    # The burst is at 2.5 s, still inside the last minute at 60 s: 60 calls, 1 drop.
    decision = _shift_with_a_burst(pacer, talking=30, drops=1, answers=20, wall=afternoon)
    # (2100 - 1530) / 1000 = 0.57; DL = 2 x 0.57.
    assert decision.explain["dial_level"] == pytest.approx(1.14)


def test_vicidial_taper_needs_drops_over_the_target() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    afternoon = datetime(2024, 5, 6, 15, 30, tzinfo=TZ)
    # 1 drop over 40 answers = 2.5%: under target, no taper.
    decision = _shift_with_a_burst(pacer, talking=30, drops=1, answers=40, wall=afternoon)
    assert decision.explain["dial_level"] == 2.0


@pytest.mark.parametrize(("hour", "minute"), [(21, 0), (21, 5), (23, 59)])
def test_vicidial_dial_level_is_one_from_nine_pm_when_over_target(hour: int, minute: int) -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=3.0)
    night = datetime(2024, 5, 6, hour, minute, tzinfo=TZ)
    decision = _shift_with_a_burst(pacer, talking=20, drops=2, answers=20, wall=night)
    assert decision.explain["dial_level"] == 1.0


def test_vicidial_no_taper_more_than_ten_hhmm_hours_before_the_end() -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=2.0)
    early = datetime(2024, 5, 6, 10, 30, tzinfo=TZ)
    decision = _shift_with_a_burst(pacer, talking=30, drops=1, answers=20, wall=early)
    assert decision.explain["dial_level"] == 2.0


def test_taper_rate_in_hhmm_arithmetic() -> None:
    assert hhmm(datetime(2024, 5, 6, 15, 30, tzinfo=TZ)) == 1530
    assert taper_rate(1530) == pytest.approx(0.57)
    assert taper_rate(1000) == 1.0
    assert taper_rate(2000) == pytest.approx(0.1)
    assert taper_rate(1959) == pytest.approx(0.141)  # not linear in minutes, as in VICIdial
    assert taper_rate(2100) == 0.0
    assert taper_rate(2105) < 0


def test_vicidial_lost_callers_are_not_drops() -> None:
    pacer = VicidialAdaptivePacer()
    pacer.observe(LiveCallRouted(at=1.0, abandoned=False, lost=True))
    pacer.observe(DialResolved(placed_at=0.0, at=1.0, live=False))
    assert (pacer.drops_today, pacer.answers_today) == (0, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_dial_level": 0.5},
        {"initial_dial_level": 3.5},
        {"max_dial_level": 0.9},
        {"initial_dial_level": float("nan")},
        {"latest_server_time": 2161},
        {"latest_server_time": -1},
    ],
)
def test_vicidial_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        VicidialAdaptivePacer(**kwargs)  # type: ignore[arg-type]


# --- registry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("progressive", ProgressivePacer),
        ("ratio", RatioPacer),
        ("vicidial-adaptive", VicidialAdaptivePacer),
    ],
)
def test_registry_builds_baseline_pacers_by_name(name: str, cls: type) -> None:
    pacer = make_pacer(name, dial_level=2.5)
    assert isinstance(pacer, cls)
    assert pacer.name == name
    assert name in PACERS


def test_registry_passes_the_dial_level_to_ratio() -> None:
    pacer = make_pacer("ratio", dial_level=2.5)
    assert isinstance(pacer, RatioPacer)
    assert pacer.dial_level == 2.5


def test_registry_lists_predictive() -> None:
    assert "predictive" in PACERS


def test_registry_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"unknown pacer 'erlang'; expected one of progressive"):
        make_pacer("erlang")


# --- properties over random snapshots ----------------------------------------------


@st.composite
def snapshots(draw: st.DrawFn, now: float | None = None) -> PacingSnapshot:
    ready = draw(st.integers(min_value=0, max_value=30))
    first_id = draw(st.integers(min_value=0, max_value=1000))
    age = st.floats(min_value=0.0, max_value=120.0, allow_nan=False)
    pending = draw(st.lists(age, max_size=40))
    talking = draw(st.lists(age, max_size=30))
    wrapping = draw(st.lists(age, max_size=10))
    hour = draw(st.integers(min_value=0, max_value=23))
    minute = draw(st.integers(min_value=0, max_value=59))
    if now is None:
        now = draw(st.floats(min_value=0.0, max_value=1e5, allow_nan=False))
    return PacingSnapshot(
        now=now,
        wall=datetime(2024, 5, 6, hour, minute, tzinfo=TZ),
        ready_agents=agents(ready, start=first_id),
        talk_elapsed=np.array(talking, dtype=np.float64),
        wrapup_elapsed=np.array(wrapping, dtype=np.float64),
        reserved_agents=draw(st.integers(min_value=0, max_value=5)),
        logged_in=draw(st.integers(min_value=0, max_value=80)),
        pending_ages=np.array(pending, dtype=np.float64),
        reserved_pending=draw(st.integers(min_value=0, max_value=5)),
        waiting=draw(st.integers(min_value=0, max_value=10)),
        connected=draw(st.integers(min_value=0, max_value=30)),
        lines_free=draw(st.integers(min_value=0, max_value=60)),
        leads_exhausted=draw(st.booleans()),
    )


def check_invariants(decision: PacingDecision, snapshot: PacingSnapshot) -> None:
    assert decision.dials >= 0
    assert decision.dials <= snapshot.lines_free
    if snapshot.leads_exhausted:
        assert decision.dials == 0
    if decision.for_agents:
        assert len(decision.for_agents) == decision.dials
        assert len(set(decision.for_agents)) == decision.dials
        assert set(decision.for_agents) <= set(snapshot.ready_agents)


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(snapshot=snapshots())
def test_progressive_invariants(snapshot: PacingSnapshot) -> None:
    decision = ProgressivePacer().decide(snapshot)
    check_invariants(decision, snapshot)
    if not snapshot.leads_exhausted:
        assert decision.dials == min(snapshot.ready, snapshot.lines_free)
        assert decision.for_agents == snapshot.ready_agents[: decision.dials]


@PROPERTY_SETTINGS
@given(
    snapshot=snapshots(),
    dial_level=st.floats(min_value=1.0, max_value=5.0, allow_nan=False),
)
def test_ratio_invariants(snapshot: PacingSnapshot, dial_level: float) -> None:
    decision = RatioPacer(dial_level=dial_level).decide(snapshot)
    check_invariants(decision, snapshot)
    assert decision.for_agents == ()


def _observations() -> st.SearchStrategy[list[DialResolved | LiveCallRouted]]:
    instant = st.floats(min_value=0.0, max_value=600.0, allow_nan=False)
    resolved = st.builds(DialResolved, placed_at=instant, at=instant, live=st.booleans())
    routed = st.builds(LiveCallRouted, at=instant, abandoned=st.booleans(), lost=st.booleans())
    return st.lists(st.one_of(resolved, routed), max_size=30)


@PROPERTY_SETTINGS
@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0.01, max_value=20.0, allow_nan=False), snapshots(0.0)),
        min_size=1,
        max_size=40,
    ),
    outcomes=_observations(),
    initial=st.floats(min_value=1.0, max_value=3.0, allow_nan=False),
)
def test_vicidial_invariants(
    steps: list[tuple[float, PacingSnapshot]],
    outcomes: list[DialResolved | LiveCallRouted],
    initial: float,
) -> None:
    pacer = VicidialAdaptivePacer(initial_dial_level=initial)
    now = 0.0
    for i, (gap, drawn) in enumerate(steps):
        snapshot = dataclasses.replace(drawn, now=now)
        decision = pacer.decide(snapshot)
        check_invariants(decision, snapshot)
        assert decision.for_agents == ()
        assert 1.0 <= pacer.dial_level <= 3.0
        if i < len(outcomes):
            pacer.observe(outcomes[i])
        now += gap


@pytest.mark.parametrize("name", [n for n in PACERS if n != "predictive"])
def test_every_baseline_pacer_satisfies_the_protocol(name: str) -> None:
    pacer: Pacer = make_pacer(name)
    decision = pacer.decide(snap(ready=2, logged_in=2))
    check_invariants(decision, snap(ready=2, logged_in=2))
