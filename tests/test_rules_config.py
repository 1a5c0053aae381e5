"""The ``[rules]`` section: the documented example is exactly the defaults, and bad
values stop with the file, the key and the reason."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from dialer.errors import ConfigError
from dialer.leads import AttemptOutcome
from rules import PolicySettings, PriorityWeights
from rules.config import (
    RULES_KEYS,
    calling_windows_from_mapping,
    policy_settings_from_mapping,
    priority_weights_from_mapping,
)
from rules.windows import COUNTRY_WINDOWS

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def example_rules_section() -> dict[str, object]:
    """The example file, parsed (its ``[rules]`` table is ``["rules"]``)."""
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_example_section_is_exactly_the_defaults() -> None:
    data = example_rules_section()
    rules = data["rules"]
    assert isinstance(rules, dict)
    settings = policy_settings_from_mapping(rules, source="config.example.toml")
    defaults = PolicySettings()
    for name in PolicySettings.__dataclass_fields__:
        got, want = getattr(settings, name), getattr(defaults, name)
        if name in ("retry_delays", "country_windows", "contact_limits"):
            got, want = dict(got), dict(want)  # a dict against the default's read-only view
        assert got == want, name
    weights = priority_weights_from_mapping(
        rules["priority"], source="config.example.toml", key="rules.priority"
    )
    assert weights == PriorityWeights()


def test_example_section_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").split("# --- rules ---", 1)[1]
    for key in RULES_KEYS:
        if key in ("windows", "contact_limits"):
            assert f"[rules.{key}." in text
            continue
        assert f"\n{key} = " in text or f"\n[rules.{key}]" in text, key


def test_overrides_and_windows() -> None:
    settings = policy_settings_from_mapping(
        {
            "max_per_phone_per_day": 2,
            "abandon_quiet_hours": 48,
            "lead_min_gap_minutes": 5,
            "retry_delays_minutes": {"busy": 5},
            "windows": {"CO": {"mon": ["08:00-12:00", "14:00-18:00"], "closed_on_holidays": True}},
            "frequency_excluded": ["busy"],
        },
        source="f.toml",
    )
    assert settings.max_per_phone_per_day == 2
    assert settings.abandon_quiet == timedelta(hours=48)
    assert settings.lead_min_gap == timedelta(minutes=5)
    assert settings.retry_delay(AttemptOutcome.BUSY) == timedelta(minutes=5)
    assert settings.retry_delay(AttemptOutcome.MACHINE) == timedelta(hours=4)  # default kept
    co = settings.windows_for("CO")
    assert co.days[0] == ((time(8), time(12)), (time(14), time(18)))
    assert co.days[1] == ()
    assert settings.windows_for("US") == COUNTRY_WINDOWS["US"]
    assert settings.frequency_excluded == frozenset({AttemptOutcome.BUSY})


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({"max_per_day": 3}, "rules.max_per_day", "unknown key"),
        ({"weekly_cap": "seven"}, "rules.weekly_cap", "integer"),
        ({"weekly_cap": -1}, "rules.weekly_cap", "non-negative"),
        ({"abandon_quiet_hours": -2}, "rules.abandon_quiet_hours", "non-negative"),
        (
            {"retry_delays_minutes": {"bussy": 5}},
            "rules.retry_delays_minutes.bussy",
            "unknown outcome",
        ),
        ({"retry_delays_minutes": {"busy": -5}}, "rules.retry_delays_minutes", "non-negative"),
        ({"hold_for_promises": "yes"}, "rules.hold_for_promises", "true or false"),
        ({"campaign_mode": "union"}, "rules.campaign_mode", "intersect"),
        ({"windows": {"US": {"mon": ["21:00-08:00"]}}}, "rules.windows.US", "before"),
        ({"windows": {"US": {"mon": ["8-21"]}}}, "rules.windows.US", "HH:MM"),
        ({"windows": {"US": {"mon": ["08:00"]}}}, "rules.windows.US.mon", "START-END"),
        ({"windows": {"US": {"monday": ["08:00-21:00"]}}}, "rules.windows.US.monday", "unknown"),
        ({"windows": {"usa": {"mon": ["08:00-21:00"]}}}, "rules.windows", "ISO"),
        ({"frequency_excluded": "busy"}, "rules.frequency_excluded", "list"),
    ],
)
def test_bad_values_name_the_file_key_and_reason(
    data: dict[str, object], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        policy_settings_from_mapping(data, source="dialer.toml")
    assert err.value.source == "dialer.toml"
    assert err.value.key == key
    assert reason in err.value.reason


def test_campaign_windows_and_priority_errors() -> None:
    w = calling_windows_from_mapping(
        {"sat": ["09:00-13:00"]}, source="c.toml", key="campaigns.x.windows"
    )
    assert w.days[5] == ((time(9), time(13)),) and w.source == "campaigns.x.windows"
    with pytest.raises(ConfigError, match="expected a table"):
        calling_windows_from_mapping(["mon"], source="c.toml", key="campaigns.x.windows")
    with pytest.raises(ConfigError) as err:
        priority_weights_from_mapping({"amount_unit": 0}, source="c.toml", key="rules.priority")
    assert err.value.key == "rules.priority" and "amount_unit" in err.value.reason
    with pytest.raises(ConfigError) as err:
        priority_weights_from_mapping(
            {"segments": {"vip": "high"}}, source="c.toml", key="rules.priority"
        )
    assert err.value.key == "rules.priority.segments.vip"
