"""Scenario files and the distributions they name: the contract in shared/SCENARIOS.md."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.errors import ConfigError
from simulator.distributions import (
    Constant,
    Distribution,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
    parse_distribution,
)
from simulator.scenario import (
    Profile,
    Scenario,
    load_scenario,
    parse_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.toml"))
STEADY = SCENARIOS / "steady-20.toml"

MINIMAL: dict[str, object] = {
    "name": "minimal",
    "duration": 3600,
    "agents": {
        "count": 4,
        "talk": {"dist": "constant", "value": 100},
        "wrapup": {"dist": "exponential", "mean": 20},
    },
    "traffic": {
        "human": 0.2,
        "ring": {"dist": "uniform", "low": 5, "high": 10},
        "patience": {"dist": "gamma", "mean": 7, "sd": 3},
    },
    "amd": {
        "human_as_machine": 0.02,
        "machine_as_human": 0.1,
        "decision": {"dist": "lognormal", "mean": 2, "sd": 0.5},
    },
}


def test_the_shared_examples_exist() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_shared_example_parses(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.source == str(path)
    assert scenario.duration > 0
    assert scenario.start.utcoffset() is not None
    for at in (0.0, scenario.duration / 2, scenario.duration - 1):
        fates = scenario.traffic
        total = fates.human.value_at(at) + fates.machine.value_at(at) + fates.busy + fates.failed
        assert 0 < total <= 1


def test_steady_values_are_read_as_written() -> None:
    s = load_scenario(STEADY)
    assert (s.seed, s.duration, s.agents.count) == (7, 28800.0, 20)
    assert s.start == datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=-6)))
    assert s.agents.talk == LogNormal(150.0, 90.0)
    assert s.amd.decision == Uniform(1.0, 3.0)
    assert s.traffic.human == Profile.constant(0.18)
    assert (s.traffic.busy, s.traffic.failed) == (0.05, 0.07)


def test_lunch_profile_and_schedule() -> None:
    s = load_scenario(SCENARIOS / "lunch-and-breaks.toml")
    assert s.traffic.human.times == (0.0, 10800.0, 14400.0, 25200.0)
    assert s.agents_at(0) == 30
    assert s.agents_at(7199.9) == 30
    assert s.agents_at(7200) == 24
    assert s.agents_at(13000) == 18
    assert s.agents_at(1e9) == 26


def test_defaults() -> None:
    tz = ZoneInfo("America/Chicago")
    s = parse_scenario(MINIMAL, source="mem.toml", today=date(2026, 3, 2), tz=tz)
    assert s.seed == 1
    assert s.start == datetime(2026, 3, 2, 9, tzinfo=tz)
    assert s.start.utcoffset() == timedelta(hours=-6)
    assert s.agents.schedule == ()
    assert s.traffic.machine == Profile.constant(0.0)
    assert (s.traffic.busy, s.traffic.failed) == (0.0, 0.0)
    assert s.traffic.busy_after == Uniform(2.0, 4.0)
    assert s.traffic.failed_after == Uniform(1.0, 3.0)
    assert s.amd.machine_hold == Constant(10.0)
    c = s.campaign
    assert (c.no_answer_timeout, c.connect_deadline, c.abandon_target) == (25.0, 2.0, 0.03)
    assert (c.bridge_delay, c.max_lines) == (0.2, None)
    assert s.leads.count >= 1_000_000


def test_default_start_is_nine_local_and_aware() -> None:
    s = parse_scenario(MINIMAL, source="mem.toml")
    assert s.start.utcoffset() is not None
    assert (s.start.hour, s.start.minute) == (9, 0)


def test_start_as_string_or_toml_datetime(tmp_path: Path) -> None:
    as_string = parse_scenario({**MINIMAL, "start": "2026-03-02T09:00:00Z"}, source="m")
    assert as_string.start == datetime(2026, 3, 2, 9, tzinfo=UTC)
    text = STEADY.read_text().replace(
        'start = "2026-03-02T09:00:00-06:00"', "start = 2026-03-02T09:00:00-06:00"
    )
    (tmp_path / "bare.toml").write_text(text)
    assert load_scenario(tmp_path / "bare.toml").start == load_scenario(STEADY).start


def test_max_lines_extension() -> None:
    s = parse_scenario({**MINIMAL, "campaign": {"max_lines": 30}}, source="m")
    assert s.campaign.max_lines == 30


# (id, text to replace in steady-20.toml, replacement, dotted key, a fragment of the reason)
MALFORMED = [
    ("bad-dist", '"lognormal", mean = 150', '"lognormall", mean = 150', "agents.talk", "one of"),
    ("negative-prob", "human = 0.18", "human = -0.1", "traffic.human", "[0, 1]"),
    ("bool-number", "busy = 0.05", "busy = true", "traffic.busy", "boolean"),
    ("string-number", "duration = 28800", 'duration = "8h"', "duration", "seconds > 0"),
    ("zero-duration", "duration = 28800", "duration = 0", "duration", "seconds > 0"),
    (
        "profile-sum",
        "human = 0.18",
        "human = 0.18\nhuman_profile = [[0, 0.18], [3600, 0.9]]",
        "traffic",
        "<= 1",
    ),
    (
        "profile-first-not-0",
        "human = 0.18",
        "human = 0.18\nhuman_profile = [[60, 0.18]]",
        "traffic.human_profile",
        "time 0",
    ),
    (
        "unsorted-schedule",
        "count = 20",
        "count = 20\nschedule = [[9000, 20], [7200, 14]]",
        "agents.schedule[1]",
        "increasing",
    ),
    (
        "schedule-past-end",
        "count = 20",
        "count = 20\nschedule = [[28800, 14]]",
        "agents.schedule[0]",
        "duration",
    ),
    ("fractional-count", "count = 20", "count = 20.5", "agents.count", "integer"),
    ("unknown-top-key", "seed = 7", "seeed = 7", "seeed", "unknown key"),
    ("unknown-table-key", "[amd]", "[amd]\ndecisoin = 2", "amd.decisoin", "did you mean"),
    ("unknown-table", "[amd]", "[campain]\nabandon_target = 0.03\n\n[amd]", "campain", "unknown"),
    (
        "naive-start",
        'start = "2026-03-02T09:00:00-06:00"',
        'start = "2026-03-02T09:00:00"',
        "start",
        "offset",
    ),
    (
        "naive-toml-start",
        'start = "2026-03-02T09:00:00-06:00"',
        "start = 2026-03-02T09:00:00",
        "start",
        "offset",
    ),
    ("missing-name", 'name = "steady-20"', "", "name", "required"),
    (
        "missing-talk",
        'talk = { dist = "lognormal", mean = 150, sd = 90 }',
        "",
        "agents.talk",
        "required",
    ),
    ("missing-ring", "ring = {", "# ring = {", "traffic.ring", "required"),
    ("missing-sd", "mean = 150, sd = 90", "mean = 150", "agents.talk", "missing parameter 'sd'"),
    ("extra-param", "sd = 90 }", "sd = 90, shape = 2 }", "agents.talk", "unexpected"),
    ("negative-sd", "sd = 90", "sd = -90", "agents.talk", "sd must be >= 0"),
    ("uniform-reversed", "low = 1.0, high = 3.0", "low = 3.0, high = 1.0", "amd.decision", "low"),
    ("syntax", "human = 0.18", "human = 0.18 0.2", "line 13", "invalid TOML"),
    (
        "abandon-zero",
        "[amd]",
        "[campaign]\nabandon_target = 0\n\n[amd]",
        "campaign.abandon_target",
        "(0, 1)",
    ),
    ("leads-negative", "[amd]", "[leads]\ncount = -5\n\n[amd]", "leads.count", "integer >= 0"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_scenarios_name_file_key_and_reason(
    tmp_path: Path, old: str, new: str, key: str, reason: str
) -> None:
    text = STEADY.read_text()
    assert old in text
    path = tmp_path / "broken-scenario.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in caught.value.key
    assert reason in caught.value.reason
    assert message == f"{path}: {caught.value.key}: {caught.value.reason}"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml") as caught:
        load_scenario(path)
    assert caught.value.source == str(path)
    assert caught.value.key == "(file)"


def test_missing_required_table() -> None:
    data = {k: v for k, v in MINIMAL.items() if k != "amd"}
    with pytest.raises(ConfigError, match=r"mem: amd: required table"):
        parse_scenario(data, source="mem")


def test_human_profile_alone_is_enough() -> None:
    traffic = {
        "human_profile": [[0, 0.1], [600, 0.3]],
        "ring": {"dist": "constant", "value": 5},
        "patience": {"dist": "constant", "value": 5},
    }
    s = parse_scenario({**MINIMAL, "traffic": traffic}, source="m")
    assert s.traffic.human.value_at(600) == 0.3


def test_profile_value_at_breakpoints() -> None:
    p = Profile((0.0, 100.0, 250.0), (0.1, 0.4, 0.2))
    assert p.value_at(-5) == 0.1
    assert p.value_at(0) == 0.1
    assert p.value_at(99.999) == 0.1
    assert p.value_at(100) == 0.4
    assert p.value_at(249.9) == 0.4
    assert p.value_at(250) == 0.2
    assert p.value_at(1e12) == 0.2
    assert Profile.constant(0.3).value_at(123.0) == 0.3
    with pytest.raises(ValueError, match="increasing"):
        Profile((0.0, 5.0, 5.0), (0.1, 0.2, 0.3))


def _base() -> Scenario:
    return load_scenario(SCENARIOS / "lunch-and-breaks.toml")


def test_replace_settings_scales_the_schedule() -> None:
    s = _base().replace_settings(agents=15, seed=99, abandon_target=0.05)
    assert s.agents.count == 15
    # 24, 30, 18, 30, 26 scaled by 15/30, half up.
    assert [n for _, n in s.agents.schedule] == [12, 15, 9, 15, 13]
    assert (s.seed, s.campaign.abandon_target) == (99, 0.05)
    assert s.campaign.connect_deadline == _base().campaign.connect_deadline


def test_replace_settings_duration_and_validation() -> None:
    s = _base().replace_settings(duration=10000, connect_deadline=0, no_answer_timeout=30)
    assert s.duration == 10000
    assert [t for t, _ in s.agents.schedule] == [7200, 8100]
    assert (s.campaign.connect_deadline, s.campaign.no_answer_timeout) == (0.0, 30.0)
    with pytest.raises(ConfigError, match=r"campaign\.abandon_target"):
        _base().replace_settings(abandon_target=1.5)
    with pytest.raises(ConfigError, match=r"agents\.count"):
        _base().replace_settings(agents=-1)


# Distributions --------------------------------------------------------------------------

# (distribution, its standard deviation) for the moment checks.
MOMENTS: list[tuple[Distribution, float]] = [
    (Constant(4.0), 0.0),
    (LogNormal(150.0, 90.0), 90.0),
    (LogNormal(8.0, 0.0), 0.0),
    (Exponential(20.0), 20.0),
    (Uniform(1.0, 3.0), 2.0 / math.sqrt(12)),
    (Gamma(140.0, 80.0), 80.0),
    (Gamma(5.0, 0.0), 0.0),
]


@pytest.mark.parametrize(("dist", "sd"), MOMENTS, ids=repr)
def test_empirical_moments_match(dist: Distribution, sd: float) -> None:
    n = 20_000
    samples = dist.sample_many(np.random.default_rng(1234), n)
    assert samples.dtype == np.float64
    assert samples.shape == (n,)
    # Five standard errors: a correct sampler fails this about once in two million runs.
    assert abs(samples.mean() - dist.mean) <= 5 * sd / math.sqrt(n) + 1e-12
    assert samples.std() == pytest.approx(sd, rel=0.05, abs=1e-12)
    assert (samples >= 0).all()


@pytest.mark.parametrize(("dist", "sd"), MOMENTS, ids=repr)
def test_same_seed_same_samples(dist: Distribution, sd: float) -> None:
    a = [dist.sample(np.random.default_rng(7)) for _ in range(3)]
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    assert [dist.sample(rng1) for _ in range(50)] == [dist.sample(rng2) for _ in range(50)]
    assert a[0] == a[1] == a[2]
    many = dist.sample_many(np.random.default_rng(7), 100)
    assert np.array_equal(many, dist.sample_many(np.random.default_rng(7), 100))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"dist": "constant", "value": 10}, Constant(10.0)),
        ({"dist": "lognormal", "mean": 150, "sd": 90}, LogNormal(150.0, 90.0)),
        ({"dist": "exponential", "mean": 3.5}, Exponential(3.5)),
        ({"dist": "uniform", "low": 2, "high": 2}, Uniform(2.0, 2.0)),
        ({"dist": "gamma", "mean": 140, "sd": 80}, Gamma(140.0, 80.0)),
    ],
)
def test_parse_distribution(table: dict[str, object], expected: Distribution) -> None:
    assert parse_distribution(table, source="f.toml", key="x.y") == expected


@pytest.mark.parametrize(
    "table",
    [
        5,
        {"mean": 3},
        {"dist": "poisson", "mean": 3},
        {"dist": "exponential", "mean": 0},
        {"dist": "exponential", "mean": True},
        {"dist": "exponential", "mean": math.inf},
        {"dist": "constant", "value": -1},
        {"dist": "uniform", "low": -1, "high": 2},
    ],
)
def test_parse_distribution_rejects(table: object) -> None:
    with pytest.raises(ConfigError, match=r"^f\.toml: traffic\.ring: ") as caught:
        parse_distribution(table, source="f.toml", key="traffic.ring")
    assert caught.value.reason


_means = st.floats(min_value=1e-3, max_value=1e4)
_sds = st.floats(min_value=0.0, max_value=1e4)
_distributions = st.one_of(
    st.builds(Constant, st.floats(min_value=0.0, max_value=1e4)),
    st.builds(LogNormal, _means, _sds),
    st.builds(Exponential, _means),
    st.tuples(_sds, _sds).map(lambda lh: Uniform(min(lh), max(lh))),
    st.builds(Gamma, _means, _sds),
)


@settings(max_examples=75, deadline=None)
@given(dist=_distributions, seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_samples_are_never_negative(dist: Distribution, seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert dist.sample(rng) >= 0
    samples = dist.sample_many(rng, 64)
    assert not np.isnan(samples).any()
    assert (samples >= 0).all()
