"""The predictive pacer's decision rules and its calibration record (pacing/predictive.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pacing.base import PacingDecision, PacingSnapshot
from pacing.predictive import PredictivePacer
from simulator.run import run_scenario
from simulator.scenario import Scenario, load_scenario

SMALL_TEAM = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "small-team-5.toml"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"rule": "occupancy"}, "rule must be 'live' or 'idle'"),
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
    live, live_pacer = _run("live")
    idle, idle_pacer = _run("idle")
    # Same traffic, another decision rule: another shift.
    assert live["dials"] != idle["dials"]
    for result, pacer in ((live, live_pacer), (idle, idle_pacer)):
        assert pacer.last is not None
        explain = pacer.last.explain
        # Over-dialling carries risk: the model expects some abandons from its dials, and
        # says so next to the count that happened (its calibration, docs/speed.md).
        assert float(explain["model_expected_abandons"]) > 0.0
        assert explain["model_expected_abandons"] == pacer.expected_abandons
        assert explain["shift_abandons"] == pacer.abandoned == result["abandoned"]
