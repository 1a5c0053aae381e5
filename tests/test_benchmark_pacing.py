"""The pacing benchmark's tuning option: predictive pacer settings from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pacing import parse_args, parse_settings, run_one

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"


def test_settings_are_typed() -> None:
    assert parse_settings("guards=false, gain=0,initial_price=0.025,rule=idle") == {
        "guards": False,
        "gain": 0,
        "initial_price": 0.025,
        "rule": "idle",
    }
    assert parse_settings("") == {}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("gian=0.1", "'gian' is not a predictive pacer setting"),
        ("abandon_target=0.05", "'abandon_target' is not"),  # the campaign's, not a knob
        ("gain", "expected KEY=VALUE"),
        ("gain=", "expected KEY=VALUE"),
    ],
)
def test_bad_settings_are_named(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_settings(text)


def test_bad_settings_stop_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--predictive-settings", "paths=many,gian=1"])
    assert exc.value.code == 2
    assert "--predictive-settings: 'gian' is not a predictive pacer setting" in (
        capsys.readouterr().err
    )


def test_settings_reach_the_pacer() -> None:
    """A fixed price with the guards off dials differently from the default pacer, and
    the row says which settings produced it."""
    path = str(SCENARIOS / "small-team-5.toml")
    default = run_one(path, "predictive", None, 900.0)
    fixed = run_one(
        path, "predictive", None, 900.0, {"guards": False, "gain": 0.0, "initial_price": 0.4}
    )
    assert "predictive_settings" not in default
    assert fixed["predictive_settings"] == {"guards": False, "gain": 0.0, "initial_price": 0.4}
    # A price of 0.4 abandons per live answer lets far more risk through.
    assert fixed["dials"] > default["dials"]
