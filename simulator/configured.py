"""A configuration file applied to a simulation: the one place both ``dialer simulate``
and its sweep workers turn a ``DialerConfig`` into scenario values, campaign settings
and a pacer, so a run in a worker process is exactly the run the parent would make.

Precedence, lowest first: the scenario file, the config file, command-line flags, a
sweep's axis value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dialer.config import SIMULATOR_CAMPAIGN_KEYS, DialerConfig, Scalar
from pacing.base import Pacer
from simulator.scenario import Scenario


def apply_config(scenario: Scenario, config: DialerConfig | None) -> Scenario:
    """``scenario`` with the ``[campaign]`` values the scenario format also has."""
    if config is None:
        return scenario
    over = config.campaign_overrides()
    scenario = scenario.replace_settings(
        abandon_target=over.get("abandon_target"),
        connect_deadline=over.get("connect_deadline"),
        no_answer_timeout=over.get("no_answer_timeout"),
    )
    if "max_lines" in over:  # not a replace_settings keyword; validated (>= 1) at load
        campaign = dataclasses.replace(scenario.campaign, max_lines=over["max_lines"])
        scenario = dataclasses.replace(scenario, campaign=campaign)
    return scenario


def engine_settings(config: DialerConfig | None) -> dict[str, Scalar]:
    """The ``[campaign]`` keys a scenario does not have (prompts, tick intervals, ...):
    they go to the runner's ``CampaignSettings`` as they are."""
    if config is None:
        return {}
    return {k: v for k, v in config.campaign.items() if k not in SIMULATOR_CAMPAIGN_KEYS}


def pacer_factory(config: DialerConfig | None, pacer: str) -> Callable[[Scenario], Pacer] | None:
    """Builds ``pacer`` with the file's tunables and the (final) scenario's campaign values."""
    if config is None:
        return None

    def build(scenario: Scenario) -> Pacer:
        cp = scenario.campaign
        return config.make_pacer(
            pacer, abandon_target=cp.abandon_target, connect_deadline=cp.connect_deadline
        )

    return build
