"""Configuration files (``dialer.config``) and ``dialer simulate --config``.

The example file must load to exactly the code's defaults and name every key; each
kind of bad file is a ``ConfigError`` naming the file, the dotted key and the reason;
the command line applies a file's values below its own flags. End-to-end runs use the
progressive and ratio pacers on 600-second copies of a shared scenario.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dialer.agent_api import ApiSettings
from dialer.cli import main
from dialer.config import (
    CAMPAIGN_KEYS,
    FROM_CAMPAIGN,
    MODES,
    SECTIONS,
    TUNABLES,
    DialerConfig,
    load_config,
    parse_config,
    section_class,
)
from dialer.errors import ConfigError
from dialer.host_config import HostConfig
from dialer.metrics import MetricsSettings
from dialer.settings import CampaignSettings
from pacing.predictive import PredictivePacer
from pacing.progressive import ProgressivePacer
from pacing.ratio import RatioPacer
from simulator import run as sim_run
from simulator.scenario import Scenario
from simulator.sweep import run_sweep
from telephony.ami_config import AmiConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
SMALL = SCENARIOS / "small-team-5.toml"


def write(tmp_path: Path, text: str, name: str = "dialer.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def short_scenario(tmp_path: Path) -> Path:
    text = re.sub(r"(?m)^duration = \d+$", "duration = 600", SMALL.read_text())
    return write(tmp_path, text, "small-600.toml")


def dialer(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialer", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ------------------------------------------------------------------ the example file


def test_example_file_loads_to_exactly_the_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.settings() == CampaignSettings()
    assert config.mode == "predictive"
    assert config.pacer is None
    # Every tunable of every pacer is in the file, at its constructor's default.
    assert config.tunables == TUNABLES
    # Every campaign key is set, except those whose default is "unset" (no TOML null).
    defaults = CampaignSettings()
    unset = {k for k in CAMPAIGN_KEYS if getattr(defaults, k) is None}
    assert set(config.campaign) == set(CAMPAIGN_KEYS) - unset
    assert {type(v) for v in config.campaign.values()} <= {bool, int, float, str}
    for key, value in config.campaign.items():
        assert value == getattr(defaults, key)
        assert type(value) is type(getattr(defaults, key)), key


def test_example_file_documents_every_key_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    keys = [*CAMPAIGN_KEYS, "mode", "pacer", *(k for t in TUNABLES.values() for k in t)]
    for key in keys:
        # Set (`key = `) or, for a key unset by default, shown commented out (`# key = `).
        at = [i for i, line in enumerate(lines) if re.match(rf"^(# )?{key} = ", line)]
        assert len(at) == 1, f"{key} documented {len(at)} times"
        above = lines[at[0] - 1]
        assert above.startswith("# ") and not re.match(r"^# \w+ = ", above), key
    text = "\n".join(lines)
    assert "dialer simulate" in text and "--config" in text
    assert "64.1200(a)(6)" in text  # why no_answer_timeout is at least 15 s


def test_example_file_makes_every_pacer() -> None:
    config = load_config(EXAMPLE)
    predictive = config.make_pacer()
    assert isinstance(predictive, PredictivePacer)
    assert predictive.paths == 128 and predictive.abandon_target == 0.03
    assert isinstance(config.make_pacer("ratio"), RatioPacer)
    assert isinstance(config.make_pacer("progressive"), ProgressivePacer)
    assert config.make_pacer("vicidial-adaptive").name == "vicidial-adaptive"


# ------------------------------------------------------------------ derived, not listed


def test_keys_are_derived_from_the_code_they_configure() -> None:
    fields = {f.name for f in dataclasses.fields(CampaignSettings)}
    assert set(CAMPAIGN_KEYS) == fields - {"campaign"}
    params = inspect.signature(PredictivePacer).parameters.values()
    assert TUNABLES["predictive"] == {
        p.name: p.default
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in FROM_CAMPAIGN
    }
    assert TUNABLES["ratio"] == {"dial_level": 2.0}
    assert sim_run.MODES == MODES


# ------------------------------------------------------------------ bad files


BAD_FILES = [
    # unknown keys, top level and nested, with a suggestion and the expected keys
    ("[campain]\nabandon_target = 0.02\n", "campain", "did you mean 'campaign'"),
    ("[campaign]\nabandon_targt = 0.02\n", "campaign.abandon_targt", "expected one of"),
    ("[pacing.predictive]\npahts = 64\n", "pacing.predictive.pahts", "did you mean 'paths'"),
    ("[pacing.ratio]\ndial_levl = 2.5\n", "pacing.ratio.dial_levl", "dial_level"),
    ("[pacing.progressive]\n", "pacing.progressive", "expected one of mode, pacer"),
    ("[storage]\nurl = 'x'\n", "storage", "expected one of campaign, pacing"),
    # wrong types
    ('[campaign]\nabandon_target = "3%"\n', "campaign.abandon_target", "expected a finite"),
    ("[campaign]\nmax_lines = 30.0\n", "campaign.max_lines", "expected an integer"),
    ("[campaign]\nabandon_prompt = 3\n", "campaign.abandon_prompt", "expected a string"),
    ("[campaign]\nnot_sure_as_human = 1\n", "campaign.not_sure_as_human", "true or false"),
    ("[pacing.predictive]\npaths = 64.5\n", "pacing.predictive.paths", "expected an integer"),
    ("[pacing.predictive]\nguards = 0\n", "pacing.predictive.guards", "true or false"),
    ("[pacing]\npredictive = 3\n", "pacing.predictive", "expected a table"),
    ("[pacing.predictive]\nhorizon = inf\n", "pacing.predictive.horizon", "finite"),
    # a boolean is never a number
    ("[campaign]\nconnect_deadline = true\n", "campaign.connect_deadline", "(a boolean)"),
    ("[pacing.predictive]\npaths = true\n", "pacing.predictive.paths", "(a boolean)"),
    # impossible values, refused by the classes that use them
    ("[campaign]\nabandon_target = 1.5\n", "campaign.abandon_target", "between 0 and 1"),
    (
        "[campaign]\ntick_interval = 0.1\nmin_tick_interval = 0.2\n",
        "campaign.tick_interval",
        "min_tick_interval <= tick_interval",
    ),
    ("[campaign]\nmax_lines = 0\n", "campaign.max_lines", "positive"),
    ('[pacing]\npacer = "turbo"\n', "pacing.pacer", "vicidial-adaptive"),
    ('[pacing]\nmode = "blended"\n', "pacing.mode", "predictive, progressive, ratio"),
    ("[pacing.predictive]\naim = 0\n", "pacing.predictive", "aim must be in (0, 1]"),
    (
        "[campaign]\nconnect_deadline = 5.0\n[pacing.predictive]\nhorizon = 4.0\n",
        "pacing.predictive",
        "horizon > deadline",
    ),
    ("[pacing.ratio]\ndial_level = 0.5\n", "pacing.ratio", "dial_level must be"),
    # not checked by the constructor, but it cannot build it either: no traceback
    ("[pacing.predictive]\ndt = 1e-9\n", "pacing.predictive", ""),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD_FILES)
def test_bad_file_names_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.source, info.value.key) == (str(path), key)
    assert reason in info.value.reason
    assert str(info.value) == f"{path}: {key}: {info.value.reason}"


def test_unreadable_file_and_bad_toml(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert (info.value.source, info.value.key) == (str(missing), "(file)")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[campaign]\nabandon_target = \n"))
    assert info.value.key == "line 2, column 18"
    assert "invalid TOML" in info.value.reason


# ------------------------------------------------------------------ using a config


def test_only_keys_the_file_sets_override() -> None:
    config = parse_config(
        {"campaign": {"abandon_target": 0.02, "max_lines": 8, "tick_interval": 0.5}},
        source="x.toml",
    )
    assert config.campaign_overrides() == {"abandon_target": 0.02, "max_lines": 8}
    assert parse_config({}, source="empty.toml").campaign_overrides() == {}
    assert parse_config({}, source="empty.toml") == DialerConfig(
        source="empty.toml", tunables={"predictive": {}, "ratio": {}}
    )


def test_integers_are_accepted_as_floats() -> None:
    config = parse_config(
        {"campaign": {"no_answer_timeout": 30}, "pacing": {"ratio": {"dial_level": 3}}},
        source="x.toml",
    )
    assert config.campaign["no_answer_timeout"] == 30.0
    assert type(config.campaign["no_answer_timeout"]) is float
    ratio = config.make_pacer("ratio")
    assert isinstance(ratio, RatioPacer) and ratio.dial_level == 3.0


def test_make_pacer_uses_the_tunables_and_the_values_in_force() -> None:
    config = parse_config(
        {
            "campaign": {"abandon_target": 0.02, "connect_deadline": 1.5},
            "pacing": {"mode": "ratio", "pacer": "predictive", "predictive": {"paths": 64}},
        },
        source="x.toml",
    )
    pacer = config.make_pacer()  # the file's pacer wins over its mode's own
    assert isinstance(pacer, PredictivePacer)
    assert (pacer.paths, pacer.abandon_target, pacer.deadline) == (64, 0.02, 1.5)
    pacer = config.make_pacer("predictive", abandon_target=0.04, connect_deadline=2.0)
    assert isinstance(pacer, PredictivePacer)
    assert (pacer.paths, pacer.abandon_target, pacer.deadline) == (64, 0.04, 2.0)
    assert config.changed_tunables("predictive") == {"paths": 64}
    assert config.changed_tunables("progressive") == {}
    with pytest.raises(ValueError, match="unknown pacer"):
        config.make_pacer("turbo")
    # A value in force that the pacer refuses with these tunables: named like a bad file.
    short = parse_config({"pacing": {"predictive": {"horizon": 4.0}}}, source="h.toml")
    with pytest.raises(ConfigError) as info:
        short.make_pacer("predictive", connect_deadline=5.0)
    assert (info.value.source, info.value.key) == ("h.toml", "pacing.predictive")


# ------------------------------------------------------------------ dialer simulate --config

CONFIG_TEXT = """\
[campaign]
abandon_target = 0.02
max_lines = 9

[pacing]
mode = "ratio"

[pacing.predictive]
paths = 64
"""


def test_simulate_with_config_runs_and_reports_it(tmp_path: Path, short_scenario: Path) -> None:
    config = write(tmp_path, CONFIG_TEXT)
    proc = dialer("simulate", short_scenario, "--config", config, "--json", "--mode", "progressive")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # --mode wins over the file's mode, and brings its own pacer.
    assert (result["mode"], result["pacer"]) == ("progressive", "progressive")
    assert result["sim_seconds"] == 600.0
    # Without --mode, the file's mode runs.
    proc = dialer("simulate", short_scenario, "--config", config, "--json")
    assert proc.returncode == 0, proc.stderr
    assert (json.loads(proc.stdout)["mode"], json.loads(proc.stdout)["pacer"]) == ("ratio",) * 2


def test_bad_config_exits_2_with_the_message(tmp_path: Path, short_scenario: Path) -> None:
    bad = write(tmp_path, "[pacing.predictive]\npahts = 64\n")
    proc = dialer("simulate", short_scenario, "--config", bad, "--json", "--mode", "progressive")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        f"dialer: error: {bad}: pacing.predictive.pahts: unknown key (did you mean 'paths'?)"
    )


Captured = dict[str, object]


@pytest.fixture
def captured_run(monkeypatch: pytest.MonkeyPatch) -> Captured:
    """Replace the run with a recorder: these tests check the wiring, not the simulator."""
    seen: Captured = {}

    def fake(scenario: Scenario, **kwargs: object) -> dict[str, object]:
        seen.update(kwargs, scenario=scenario)
        return {"mode": kwargs["mode"], "pacer": kwargs["pacer"]}

    monkeypatch.setattr("dialer.cli.run_scenario", fake)
    return seen


def test_config_overrides_the_scenario_and_flags_override_the_config(
    tmp_path: Path, short_scenario: Path, captured_run: Captured, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, CONFIG_TEXT + "\n[pacing.ratio]\ndial_level = 3\n")
    assert main(["simulate", str(short_scenario), "--config", str(config), "--json"]) == 0
    scenario = captured_run["scenario"]
    assert isinstance(scenario, Scenario)
    assert scenario.campaign.abandon_target == 0.02
    assert scenario.campaign.max_lines == 9
    assert scenario.campaign.connect_deadline == 2.0  # not in the file: the scenario's
    assert captured_run["mode"] == "ratio"
    factory = captured_run["pacer_factory"]
    assert callable(factory)
    pacer = factory(scenario)
    assert isinstance(pacer, RatioPacer) and pacer.dial_level == 3.0

    argv = ["simulate", str(short_scenario), "--config", str(config), "--json"]
    assert main([*argv, "--abandon-target", "0.04", "--pacer", "predictive"]) == 0
    scenario = captured_run["scenario"]
    assert isinstance(scenario, Scenario)
    assert scenario.campaign.abandon_target == 0.04
    assert (captured_run["mode"], captured_run["pacer"]) == ("ratio", "predictive")
    factory = captured_run["pacer_factory"]
    assert callable(factory)
    pacer = factory(scenario)
    assert isinstance(pacer, PredictivePacer)
    assert (pacer.paths, pacer.abandon_target) == (64, 0.04)
    capsys.readouterr()


def test_without_config_nothing_changes(short_scenario: Path, captured_run: Captured) -> None:
    assert main(["simulate", str(short_scenario), "--json"]) == 0
    assert (captured_run["mode"], captured_run["pacer"]) == ("predictive", None)
    assert captured_run["pacer_factory"] is None


def test_sweep_takes_the_config_campaign_values(
    tmp_path: Path,
    short_scenario: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: Captured = {}

    def spy(*args: Any, **kwargs: Any) -> list[dict[str, object]]:
        seen.update(kwargs)
        return run_sweep(*args, **kwargs)

    monkeypatch.setattr("dialer.cli.run_sweep", spy)
    config = write(
        tmp_path,
        '[campaign]\nabandon_target = 0.02\nconnect_deadline = 1.5\n[pacing]\nmode = "ratio"\n',
    )
    argv = ["simulate", str(short_scenario), "--config", str(config), "--json"]
    sweep = ["--sweep", "seed=1,2", "--jobs", "2", "--out", str(tmp_path / "out")]
    assert main([*argv, *sweep, "--abandon-target", "0.025"]) == 0
    assert seen["base"] == {"abandon_target": 0.025, "connect_deadline": 1.5}
    assert seen["mode"] == "ratio"
    rows = json.loads(capsys.readouterr().out)
    # Each row is exactly `simulate` with the same file and flags (worker processes).
    assert main([*argv, "--abandon-target", "0.025", "--seed", "2"]) == 0
    single = json.loads(capsys.readouterr().out)
    row = rows[1]
    assert row.pop("seed") == 2 == single.pop("seed")
    row.pop("wall_seconds")
    single.pop("wall_seconds")
    assert row == single


def test_sweep_runs_carry_tunables_lines_and_engine_settings(
    tmp_path: Path, short_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pacer tunables, max_lines and the runner's own settings reach every sweep run
    (worker processes re-read the file): each row equals the single run."""
    config = write(
        tmp_path,
        "[campaign]\nmax_lines = 4\ntick_interval = 0.5\nmin_tick_interval = 0.5\n"
        '[pacing]\nmode = "ratio"\n[pacing.ratio]\ndial_level = 3\n',
    )
    argv = ["simulate", str(short_scenario), "--config", str(config), "--json"]
    sweep = ["--sweep", "seed=1,2", "--jobs", "2", "--out", str(tmp_path / "out")]
    assert main([*argv, *sweep]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main([*argv, "--seed", "2"]) == 0
    single = json.loads(capsys.readouterr().out)
    row = rows[1]
    assert row.pop("seed") == 2 == single.pop("seed")
    row.pop("wall_seconds")
    single.pop("wall_seconds")
    assert row == single
    # The file's values were in force: without it the same seed gives another result.
    assert main(["simulate", str(short_scenario), "--json", "--mode", "ratio", "--seed", "2"]) == 0
    plain = json.loads(capsys.readouterr().out)
    plain.pop("wall_seconds")
    plain.pop("seed")
    assert plain != single


def test_engine_settings_from_the_config_reach_the_runner(
    tmp_path: Path, short_scenario: Path, captured_run: Captured
) -> None:
    config = write(
        tmp_path, '[campaign]\ntick_interval = 0.5\nabandon_prompt = "id-msg"\nmax_lines = 9\n'
    )
    assert main(["simulate", str(short_scenario), "--config", str(config), "--json"]) == 0
    # max_lines is a scenario value; the others go to CampaignSettings as they are.
    assert captured_run["settings"] == {"tick_interval": 0.5, "abandon_prompt": "id-msg"}


# ------------------------------------------------------------------ further sections


def _section_lines(name: str) -> list[str]:
    """The lines of the example file's ``[name]`` table (up to the next table)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"[{name}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return lines[start + 1 : end]


# [ami] names real servers, so the example shows it commented out (test_cli_ami loads it).
@pytest.mark.parametrize("name", sorted(set(SECTIONS) - {"ami"}))
def test_example_file_documents_each_section_at_its_defaults(name: str) -> None:
    cls = section_class(name)
    config = load_config(EXAMPLE)
    assert name in config.sections  # the file has the table, not just the defaults
    if hasattr(cls, "from_toml"):
        return  # a nested section: its own module's tests check its example (test_rules_config)
    assert config.section(cls) == cls()
    lines = _section_lines(name)
    for f in dataclasses.fields(cls):
        at = [i for i, line in enumerate(lines) if re.match(rf"^(# )?{f.name} = ", line)]
        assert len(at) == 1, f"{name}.{f.name} documented {len(at)} times"
        above = lines[at[0] - 1]
        assert above.startswith("# ") and not re.match(r"^# \w+ = ", above), f.name


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[api]\nprot = 80\n", "api.prot", "did you mean 'port'?"),
        ("[api]\nport = 70000\n", "api.port", "0..65535"),
        ('[api]\nport = "8081"\n', "api.port", "expected an integer"),
        ('[api]\ncustom_codes = ["refused"]\n', "api.custom_codes", "built-in"),
        ('[api]\ncustom_codes = "paid"\n', "api.custom_codes", "array of strings"),
        ('[api]\ndefault_currency = "pesos"\n', "api.default_currency", "ISO 4217"),
        ("[metrics]\nenabled = 1\n", "metrics.enabled", "true or false"),
        ('[metrics]\nhost = ""\n', "metrics.host", "must name an address"),
        ("metrics = 3\n", "metrics", "expected a table"),
        ("[host]\ndrain_timeout = -1\n", "host.drain_timeout", ">= 0"),
        ("[host]\npoll_interval = 0\n", "host.poll_interval", "> 0"),
        ('[host]\nhost_id = "a"\n', "host.host_id", "expected one of"),
    ],
)
def test_bad_section_values_name_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(text), source="x.toml")
    assert err.value.key == key
    assert reason in err.value.reason


def test_sections_parse_into_their_settings() -> None:
    config = parse_config(
        tomllib.loads('[api]\nport = 0\ncustom_codes = ["paid_already"]\n'), source="x.toml"
    )
    api = config.section(ApiSettings)
    assert api.port == 0 and api.custom_codes == frozenset({"paid_already"})
    assert config.section(MetricsSettings) == MetricsSettings()


def test_an_ami_section_loads_its_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_AMI_SECRET", "s3cr3t-value")
    text = (
        '[ami]\nsecret_env = "DIALER_AMI_SECRET"\n[[ami.server]]\nname = "pbx1"\n'
        'host = "127.0.0.1"\nport = 5038\n[[ami.server.trunk]]\nname = "carrier"\n'
        'template = "PJSIP/{number}@carrier"\nchannels = 30\n'
    )
    config = parse_config(tomllib.loads(text), source="x.toml")
    (server,) = config.section(AmiConfig).servers
    assert (server.name, server.port) == ("pbx1", 5038)
    assert "s3cr3t-value" not in repr(config)
    with pytest.raises(ConfigError) as err:
        parse_config(
            tomllib.loads(text.replace("port = 5038", "port = 5038\nprot = 1")), source="x.toml"
        )
    assert err.value.key.startswith("ami.server[0].prot")


def test_host_section_and_the_command_line_drain_timeout() -> None:
    config = parse_config(
        tomllib.loads("[host]\npoll_interval = 2\ndrain_timeout = 30\n"), source="x.toml"
    )
    host = config.section(HostConfig)
    from_file = host.host_settings(host_id="h1", drain_timeout=None)
    assert (from_file.poll_interval, from_file.drain_timeout, from_file.host_id) == (
        2.0,
        30.0,
        "h1",
    )
    assert host.host_settings(host_id="h1", drain_timeout=5.0).drain_timeout == 5.0  # flag wins
