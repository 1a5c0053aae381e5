"""The predictive pacer's decision rules and its calibration record (pacing/predictive.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from dialer.ids import AgentId
from pacing.base import PacingDecision, PacingSnapshot
from pacing.paths import PathSet
from pacing.predictive import LARGE_FLOOR, PredictivePacer
from simulator.run import run_scenario
from simulator.scenario import Scenario, load_scenario

SMALL_TEAM = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "small-team-5.toml"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"rule": "occupancy"}, "rule must be 'live', 'idle' or 'lookahead'"),
        ({"lookahead": 0.5}, "lookahead must be at least dt"),
        ({"lookahead": 40.0}, "lookahead must be at least dt and less than the horizon"),
        ({"idle_scale": 0.0}, "idle_scale must be"),
        ({"idle_scale": float("nan")}, "idle_scale must be"),
    ],
)
def test_bad_rule_settings_are_named(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        PredictivePacer(**kwargs)  # type: ignore[arg-type]


class _Recording(PredictivePacer):
    """Keeps the last decision that placed calls, to read its explanation."""

    last: PacingDecision | None = None

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        decision = super().decide(snapshot)
        if decision.dials:
            self.last = decision
        return decision


def _run(rule: str) -> tuple[dict[str, object], _Recording]:
    scenario = dataclasses.replace(load_scenario(SMALL_TEAM), duration=1800)
    pacers: list[_Recording] = []

    def factory(sc: Scenario) -> _Recording:
        pacers.append(_Recording(abandon_target=0.03, connect_deadline=2.0, rule=rule))
        return pacers[0]

    result = run_scenario(scenario, pacer_factory=factory)
    return result, pacers[0]


def test_each_rule_dials_and_records_its_expected_abandons() -> None:
    runs = [_run(rule) for rule in ("live", "idle", "lookahead")]
    # Same traffic, another decision rule: another shift.
    assert len({result["dials"] for result, _ in runs}) == 3
    for result, pacer in runs:
        assert pacer.last is not None
        explain = pacer.last.explain
        # Over-dialling carries risk: the model expects some abandons from its dials, and
        # says so next to the count that happened (its calibration, docs/speed.md).
        assert float(explain["model_expected_abandons"]) > 0.0
        assert explain["model_expected_abandons"] == pacer.expected_abandons
        assert explain["shift_abandons"] == pacer.abandoned == result["abandoned"]


def test_lookahead_never_places_a_first_dial_the_idle_rule_would_refuse() -> None:
    """The look-ahead only adds a condition to the idle rule's (docs/speed.md): on the
    same sampled paths and price, whatever it accepts the idle rule accepts too."""
    idle, ahead = _pair()
    rng = np.random.default_rng(5)
    for _ in range(200):
        # Paths of X = demand - supply: an agent or two to spare now, agents freeing
        # and calls turning live at random later.
        steps = rng.choice([-1, 0, 0, 0, 1], size=(64, HORIZON))
        x = np.zeros((64, HORIZON + 1), dtype=np.int64)
        x[:, 1:] = np.cumsum(steps, axis=1) + rng.integers(-2, 1, size=(64, 1))
        price = float(rng.uniform(0.005, 0.1))
        took_ahead = ahead._accept(PathSet(x.copy()), price)[1]
        assert idle._accept(PathSet(x.copy()), price)[1] or not took_ahead


def test_lookahead_waits_for_the_agent_that_is_about_to_free() -> None:
    """Every agent busy, one sure to free 8 s from now: a dial now may go live before
    then (its live time peaks at 10 s). The idle rule places it at prices where the
    look-ahead waits, because the same dial 3 s later fills nearly as much idle time at a
    third of the risk; once an agent sits idle now, nothing is gained by waiting and the
    look-ahead dials too."""
    idle, ahead = _pair()
    busy = np.zeros((8, HORIZON + 1), dtype=np.int64)
    busy[:, 9:] = -1  # X_k = -1 from bin 8 on (column k + 1; column 0 stays 0)
    spare_now = busy.copy()
    spare_now[:, 1:] -= 1  # the same, with one more agent ready from now on
    deferred = [
        p
        for p in np.linspace(0.01, 1.0, 100)
        if idle._accept(PathSet(busy.copy()), p)[1]
        and not ahead._accept(PathSet(busy.copy()), p)[1]
    ]
    assert len(deferred) > 50
    for p in deferred:
        assert ahead._accept(PathSet(spare_now.copy()), p)[1]


HORIZON = 40


def _pair() -> tuple[PredictivePacer, PredictivePacer]:
    """An idle-rule and a look-ahead pacer sharing a live-time pmf like a new dial's:
    live in 25% of cases (small-team-5's contact rate), most of them 5-15 s out."""
    pmf = np.exp(-0.5 * ((np.arange(HORIZON) - 10.0) / 4.0) ** 2)
    pmf *= 0.25 / pmf.sum()
    pair = (PredictivePacer(rule="idle"), PredictivePacer(rule="lookahead", lookahead=3.0))
    for pacer in pair:
        pacer._new_pmf = pmf
        pacer._set_pair()
    return pair


def test_a_floor_of_200_agents_decides_at_most_once_a_second() -> None:
    def snap(now: float, logged_in: int) -> PacingSnapshot:
        ready = tuple(AgentId(f"a{i}") for i in range(logged_in // 2))
        return PacingSnapshot(
            now=now,
            wall=datetime(2026, 11, 23, 10, tzinfo=UTC),
            ready_agents=ready,
            talk_elapsed=np.full(logged_in - len(ready), 30.0),
            logged_in=logged_in,
        )

    big = PredictivePacer(abandon_target=0.03, connect_deadline=2.0)
    assert big.decide(snap(100.0, LARGE_FLOOR)).dials > 0  # idle agents: it dials
    assert big.next_decision_at() == pytest.approx(101.0)
    assert big.decide(snap(100.5, LARGE_FLOOR)).explain["reason"] == (
        "large floor: decided recently"
    )
    # A floor just under it with the same few items decides on every tick.
    small = PredictivePacer(abandon_target=0.03, connect_deadline=2.0)
    small.decide(snap(100.0, LARGE_FLOOR - 1))
    assert small.next_decision_at() <= 100.0


def test_bad_shift_guard_is_named() -> None:
    with pytest.raises(ValueError, match="shift_guard must be 'rate' or 'room', not 'hard'"):
        PredictivePacer(shift_guard="hard")


@pytest.mark.parametrize(
    ("settled", "abandoned", "ratio"),
    [
        (1000, 20, 1.0),  # 10 abandons of room: no cut
        (1000, 28, 2.0 / 3.0),  # 2 of room: the price falls to 2/3
        (1000, 30, 0.1),  # none left: a tenth, the floor
        (1000, 35, 0.4),  # over the target: "rate" cuts by 4, "room" by 10
        (50, 3, 1.0),  # under 2/target live answers both use the smoothed rate (6%: x0.25)
    ],
)
def test_room_guard_cuts_the_price_in_proportion_to_the_room_left(
    settled: int, abandoned: int, ratio: float
) -> None:
    # Both pacers in the same state; under the target on the smoothed rate, "rate" does
    # not cut, so the price ratio is the room guard's factor.
    prices = []
    for guard in ("rate", "room"):
        pacer = PredictivePacer(abandon_target=0.03, shift_guard=guard)
        pacer.settled, pacer.abandoned = settled, abandoned
        prices.append(pacer.price(3600.0)[0])
    assert prices[1] / prices[0] == pytest.approx(ratio)


def test_hour_cap_keeps_calls_in_flight_to_the_agents_when_the_hour_is_spent() -> None:
    # Four ready agents, four calls ringing for 1 s, and a price high enough (guards off)
    # that without the cap the pacer dials on.
    def snap(now: float) -> PacingSnapshot:
        return PacingSnapshot(
            now=now,
            wall=datetime(2026, 11, 23, 10, tzinfo=UTC),
            ready_agents=tuple(AgentId(f"a{i}") for i in range(4)),
            talk_elapsed=np.full(1, 30.0),
            pending_ages=np.full(4, 1.0),
            logged_in=5,
        )

    def pacer(hour_ab: int, cap: bool) -> PredictivePacer:
        p = PredictivePacer(
            abandon_target=0.03,
            connect_deadline=2.0,
            initial_price=0.5,
            guards=False,
            hour_cap=cap,
        )
        p.decide(snap(10.0))  # sets the hour from the snapshot's wall clock
        p._hour_live, p._hour_ab = 60, hour_ab  # 60 live answers: 6% allows 3 abandons
        return p

    free = pacer(3, cap=False).decide(snap(20.0))
    assert free.explain["hour_abandons_left"] == "off"
    assert free.dials >= 3
    spent = pacer(3, cap=True).decide(snap(20.0))
    assert spent.explain["hour_abandons_left"] == 0
    assert spent.dials == 0  # as many in flight as ready agents
    one_left = pacer(2, cap=True)
    assert one_left.hour_abandons_left(20.0) == 1
    decision = one_left.decide(snap(20.0))
    assert 1 <= decision.dials <= 2  # ready + 2 - in flight
    roomy = pacer(0, cap=True)
    assert roomy.hour_abandons_left(20.0) == 3
