"""What the runner tells listeners about each call: the feed of metrics and screen-pops.

The runner emits these synchronously, in order, from inside its event handling; a
listener must be quick and must not raise (a listener that raises is logged and the
call goes on: an observer never changes what happens to a call).

Times are engine monotonic seconds (``Clock.now()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialer.ids import AgentId, CallId, CampaignId
from dialer.leads import AttemptResult, DialTarget
from telephony.events import AmdVerdict


@dataclass(frozen=True, slots=True)
class CallPlaced:
    campaign: CampaignId
    call: CallId
    target: DialTarget
    at: float
    reserved_for: AgentId | None


@dataclass(frozen=True, slots=True)
class VerdictReached:
    """Answering-machine detection decided; ``live`` is whether it goes to an agent."""

    campaign: CampaignId
    call: CallId
    verdict: AmdVerdict
    live: bool
    at: float


@dataclass(frozen=True, slots=True)
class CallRouted:
    """A detected person was given to ``agent`` after waiting ``wait`` seconds
    (verdict to bridge order: the connect delay the 2-second rule is about)."""

    campaign: CampaignId
    call: CallId
    agent: AgentId
    target: DialTarget
    wait: float
    at: float


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The agent hears the person (the bridge completed): the moment for a screen-pop."""

    campaign: CampaignId
    call: CallId
    agent: AgentId
    target: DialTarget
    at: float


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """Nobody could take the person within the connect deadline: identification message."""

    campaign: CampaignId
    call: CallId
    target: DialTarget
    at: float


@dataclass(frozen=True, slots=True)
class CallFinished:
    campaign: CampaignId
    result: AttemptResult
    at: float


CallNotice = CallPlaced | VerdictReached | CallRouted | CallConnected | CallAbandoned | CallFinished
CallListener = Callable[[CallNotice], None]
