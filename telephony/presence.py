"""Agent presence: which agents sit in their conference, as events next to the call events.

An agent logs in by dialling the login extension from their phone (agent number and
PIN); the dialplan puts the phone in the agent's own conference for the whole session.
A backend that can see that (the AMI adapter, from ConfbridgeJoin/ConfbridgeLeave)
implements ``AgentPresence``; the runner checks for it with ``isinstance`` and marks the
agent logged in or out. The ``Telephony`` protocol itself is unchanged, so backends
without presence (the simulator, the scripted double) need nothing new.

Times are engine-clock monotonic seconds, as in ``telephony.events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dialer.ids import AgentId


@dataclass(frozen=True, slots=True)
class AgentJoined:
    """The agent's phone is in the agent's conference: the agent can take calls."""

    agent: AgentId
    at: float


@dataclass(frozen=True, slots=True)
class AgentLeft:
    """The agent's phone left the conference (hung up, dropped): no calls for them."""

    agent: AgentId
    at: float


PresenceEvent = AgentJoined | AgentLeft


@runtime_checkable
class AgentPresence(Protocol):
    """Optional: a telephony backend that reports agent presence."""

    def presence(self) -> AsyncIterator[PresenceEvent]:
        """Joins and leaves, in the order the PBX reported them."""
        ...
