"""Which campaign a multi-campaign agent works for next: one pure rule.

An agent may be assigned to several campaigns but is attached to one running campaign
at a time (its desktop shows one campaign's calls; a pacer counts it in one floor). The
host asks this rule whenever the agent is free to move: at login, after each call's
wrap-up (the disposition is set), on resume, and when its campaign pauses or stops.

The rule, in order of precedence:

1. Only campaigns that are dialling, or that still have a detected person waiting for
   an agent, are candidates; with none, the agent waits unattached.
2. Most persons waiting for an agent wins: each of them is seconds from the
   identification message, i.e. an abandoned call (the 2 s connect deadline).
3. Then a campaign that has eligible leads beats one whose supply is empty (an agent
   in a campaign with nothing to dial would sit idle while another floor needs people).
4. Then the agent's current campaign: moving costs a logout and a login, and resets
   the pacer's view of the agent; an agent does not wander between equals.
5. Then the campaign this rule has least recently sent an agent to (round robin, so
   agents logging in together spread evenly across their campaigns).
6. Then the campaign id, so that the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialer.ids import CampaignId


@dataclass(frozen=True, slots=True)
class CampaignLoad:
    """One candidate campaign as the rule sees it.

    ``waiting``: detected persons waiting for an agent now. ``last_served``: engine time
    (seconds) this rule last sent an agent there; ``-inf`` if never.
    """

    campaign: CampaignId
    dialling: bool
    waiting: int
    has_leads: bool
    last_served: float


def choose_campaign(
    candidates: Sequence[CampaignLoad], *, current: CampaignId | None
) -> CampaignId | None:
    """The campaign the agent should work for now, or ``None`` if none can use it."""
    best: tuple[int, bool, bool, float] | None = None
    chosen: CampaignId | None = None
    # Visiting candidates in id order and replacing only on a strictly better key makes
    # the smallest id win a complete tie (rule 6).
    for load in sorted(candidates, key=lambda c: c.campaign):
        if not load.dialling and load.waiting <= 0:
            continue
        key = (load.waiting, load.has_leads, load.campaign == current, -load.last_served)
        if best is None or key > best:
            best, chosen = key, load.campaign
    return chosen
