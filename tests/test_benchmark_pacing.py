"""The pacing benchmark's ``--config``: a configuration file applied to every run, as
``dialer simulate --config`` applies it (QA's tuning experiments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pacing import parse_args, run_one

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
FIXED_PRICE = """\
[pacing.predictive]
guards = false
gain = 0.0
initial_price = 0.4
"""


def test_a_bad_config_stops_the_command_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[pacing.predictive]\ngian = 0.1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        parse_args(["--config", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "gian" in err


def test_the_config_reaches_the_pacer(tmp_path: Path) -> None:
    """A fixed high price with the guards off dials differently from the default pacer,
    and the row says which file produced it."""
    config = tmp_path / "fixed.toml"
    config.write_text(FIXED_PRICE, encoding="utf-8")
    path = str(SCENARIOS / "small-team-5.toml")
    default = run_one(path, "predictive", None, 900.0)
    fixed = run_one(path, "predictive", None, 900.0, str(config))
    assert "config" not in default
    assert fixed["config"] == str(config)
    # A price of 0.4 abandons per live answer lets far more risk through.
    assert fixed["dials"] > default["dials"]
    # The model's expected abandons ride along, for the predictive pacer only.
    assert fixed["model_expected_abandons"] > default["model_expected_abandons"] >= 0.0
    assert "model_expected_abandons" not in run_one(path, "progressive", None, 900.0)
