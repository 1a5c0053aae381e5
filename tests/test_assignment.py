"""The multi-campaign agent rule (dialer.assignment), precedence by precedence."""

from __future__ import annotations

import math

from dialer.assignment import CampaignLoad, choose_campaign
from dialer.ids import CampaignId


def load(
    name: str,
    *,
    dialling: bool = True,
    waiting: int = 0,
    has_leads: bool = True,
    last_served: float = -math.inf,
) -> CampaignLoad:
    return CampaignLoad(CampaignId(name), dialling, waiting, has_leads, last_served)


def test_no_candidate_means_wait() -> None:
    assert choose_campaign([], current=None) is None
    assert choose_campaign([load("a", dialling=False)], current=CampaignId("a")) is None


def test_a_paused_campaign_with_a_person_waiting_still_gets_help() -> None:
    got = choose_campaign([load("a", dialling=False, waiting=1), load("b")], current=None)
    assert got == "a"


def test_most_waiting_wins_over_everything_else() -> None:
    loads = [load("a", waiting=1), load("b", waiting=2, has_leads=False, last_served=100.0)]
    assert choose_campaign(loads, current=CampaignId("a")) == "b"


def test_leads_beat_an_empty_supply() -> None:
    loads = [load("a", has_leads=False), load("b", last_served=5.0)]
    assert choose_campaign(loads, current=CampaignId("a")) == "b"


def test_the_agent_stays_among_equals() -> None:
    loads = [load("a", last_served=9.0), load("b", last_served=1.0)]
    assert choose_campaign(loads, current=CampaignId("a")) == "a"


def test_least_recently_served_then_id() -> None:
    assert (
        choose_campaign([load("a", last_served=9.0), load("b", last_served=1.0)], current=None)
        == "b"
    )
    assert choose_campaign([load("b"), load("a")], current=None) == "a"
